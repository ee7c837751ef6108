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
_FENCE_LINE = re.compile(r"^\s*```[\w-]*\s*$", re.MULTILINE)
_VALUE_START = re.compile(r"[\[{]")
_INSIGHTS_LIST = re.compile(r'\{\s*"insights"\s*:\s*\[')
_MAX_FAILED_STARTS = 20  # prose with brackets in it; past this the reply is not JSON
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
    """Valid items and one problem line per invalid item; raises ReplyError for a broken reply.

    Small models wrap JSON in fences and prose, send several objects one after another and
    run out of tokens mid-array, so every JSON value in the text is read, a cut-off list is
    salvaged up to its last complete item, and repeated items count once.
    """
    body = text.strip()
    if not body:
        raise ReplyError("the reply was empty")
    fenced = _FENCED.match(body)
    body = fenced.group(1) if fenced else _FENCE_LINE.sub("", body)
    docs, salvaged = _json_values(body)
    if not docs and not salvaged:
        raise ReplyError("the reply is not valid JSON (no complete JSON value in it)")
    items: list[Any] = list(salvaged)
    shaped = bool(salvaged)
    for doc in docs:
        if isinstance(doc, dict) and "insights" in doc:
            if not isinstance(doc["insights"], list):
                raise ReplyError('"insights" must be a list')
            if len(doc["insights"]) > MAX_INSIGHTS_PER_WINDOW:
                raise ReplyError(
                    f'"insights" has {len(doc["insights"])} items; at most {MAX_INSIGHTS_PER_WINDOW}'
                )
            items.extend(doc["insights"])
            shaped = True
        elif isinstance(doc, dict) and "insight" in doc:  # a bare item instead of the wrapper
            items.append(doc)
            shaped = True
        elif isinstance(doc, list) and doc and all(
            isinstance(i, dict) and "insight" in i for i in doc
        ):
            items.extend(doc)
            shaped = True
    if not shaped:
        raise ReplyError('the reply must be a JSON object with an "insights" list')
    good: list[ProposedInsight] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        try:
            proposed = _read_item(item)
        except ValueError as exc:
            problems.append(f"item {index}: {exc}")
            continue
        key = (proposed.insight.casefold(), proposed.quote.casefold())
        if key in seen:  # the same item again: small models loop
            continue
        seen.add(key)
        good.append(proposed)
    return good[:MAX_INSIGHTS_PER_WINDOW], problems


def _json_values(body: str) -> tuple[list[Any], list[Any]]:
    """Every complete top-level JSON value in `body`, and the complete items of a cut-off list."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos, failures = 0, 0
    while failures < _MAX_FAILED_STARTS:
        match = _VALUE_START.search(body, pos)
        if match is None:
            return docs, []
        try:
            doc, end = decoder.raw_decode(body, match.start())
        except (json.JSONDecodeError, RecursionError):
            salvaged = _salvage(body, match.start(), decoder)
            if salvaged:
                return docs, salvaged  # a list cut off at the token cap ends the reply
            failures += 1
            pos = match.start() + 1
            continue
        docs.append(doc)
        pos = end
    return docs, []


def _salvage(body: str, start: int, decoder: json.JSONDecoder) -> list[Any]:
    """The complete items of an "insights" list (or a bare list) that the reply cut off."""
    head = _INSIGHTS_LIST.match(body, start)
    if head:
        pos = head.end()
    elif body[start] == "[":
        pos = start + 1
    else:
        return []
    items: list[Any] = []
    while True:
        while pos < len(body) and body[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(body) or body[pos] != "{":
            return items
        try:
            item, pos = decoder.raw_decode(body, pos)
        except (json.JSONDecodeError, RecursionError):
            return items
        items.append(item)


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
