"""Strict reading of the model's JSON reply: schema, types, ranges, lengths and kinds."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from core.insights.prompts import MAX_INSIGHTS_PER_WINDOW
from core.models import InsightKind

MIN_INSIGHT_CHARS = 20
MAX_INSIGHT_CHARS = 500  # three long sentences; the prompt asks for 400
MIN_QUOTE_WORDS = 4
MAX_QUOTE_WORDS = 90  # the prompt asks for 60; some slack before calling it malformed
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_STAMP = re.compile(r"^(?:(\d{1,2}):)?(\d{1,3}):([0-5]\d)(?:\.\d+)?$")
_INLINE_STAMP = re.compile(r"\[(?:\d{1,2}:)?\d{1,3}:\d{2}\]")
_KINDS = {k.value for k in InsightKind}
_SCORES = ("novelty", "specificity", "evidence")


class ReplyError(ValueError):
    """The reply as a whole is unusable (not JSON, wrong shape); the message says why."""


@dataclass(frozen=True)
class ProposedInsight:
    """One insight as the model proposed it, before its quote is checked against the transcript."""

    insight: str
    quote: str
    start: float  # seconds, the model's own hint
    kind: str
    novelty: float
    specificity: float
    evidence: float

    def to_doc(self) -> dict[str, Any]:
        """A JSON-safe dict for the reply cache."""
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ProposedInsight:
        """Rebuild from `to_doc` output."""
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__})


def parse_stamp(value: Any) -> float | None:
    """'mm:ss', 'h:mm:ss' or a non-negative number of seconds -> seconds; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str):
        match = _STAMP.match(value.strip().strip("[]"))
        if match:
            hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
            return float(hours * 3600 + minutes * 60 + seconds)
    return None


def read_reply(text: str) -> tuple[list[ProposedInsight], list[str]]:
    """Valid items and one problem line per invalid item; raises ReplyError for a broken reply."""
    body = text.strip()
    if not body:
        raise ReplyError("the reply was empty")
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ReplyError(f"the reply is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or "insights" not in doc:
        raise ReplyError('the reply must be a JSON object with an "insights" list')
    items = doc["insights"]
    if not isinstance(items, list):
        raise ReplyError('"insights" must be a list')
    if len(items) > MAX_INSIGHTS_PER_WINDOW:
        raise ReplyError(f'"insights" has {len(items)} items; at most {MAX_INSIGHTS_PER_WINDOW}')
    good: list[ProposedInsight] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            good.append(_read_item(item))
        except ValueError as exc:
            problems.append(f"item {index}: {exc}")
    return good, problems


def _read_item(item: Any) -> ProposedInsight:
    if not isinstance(item, dict):
        raise ValueError("must be an object")
    insight = item.get("insight")
    if not isinstance(insight, str):
        raise ValueError('"insight" must be a string')
    insight = " ".join(insight.split())
    if not MIN_INSIGHT_CHARS <= len(insight) <= MAX_INSIGHT_CHARS:
        raise ValueError(f'"insight" must be {MIN_INSIGHT_CHARS}-{MAX_INSIGHT_CHARS} characters')
    quote = item.get("quote")
    if not isinstance(quote, str):
        raise ValueError('"quote" must be a string')
    quote = " ".join(_INLINE_STAMP.sub(" ", quote).split()).strip("\"“”")
    if not MIN_QUOTE_WORDS <= len(quote.split()) <= MAX_QUOTE_WORDS:
        raise ValueError(f'"quote" must be {MIN_QUOTE_WORDS}-{MAX_QUOTE_WORDS} words')
    start = parse_stamp(item.get("start"))
    if start is None:
        raise ValueError('"start" must be "mm:ss" or a number of seconds')
    kind = item.get("kind")
    if not isinstance(kind, str) or kind.strip().lower() not in _KINDS:
        raise ValueError(f'"kind" must be one of {", ".join(sorted(_KINDS))}')
    scores = []
    for name in _SCORES:
        value = item.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'"{name}" must be a number from 0 to 1')
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f'"{name}" must be between 0 and 1')
        scores.append(float(value))
    return ProposedInsight(insight, quote, start, kind.strip().lower(), *scores)
