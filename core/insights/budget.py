"""A per-day (UTC) token and cost budget for language-model calls, persisted in the store.

Each process keeps its own book for the day (key "date|process") and the day's spend is the sum of
every book: with several extraction workers on one database, two charging at once never overwrite
each other's read-modify-write (a shared document would lose one of the charges).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core.config import LLMSettings
from core.errors import BudgetExhaustedError
from core.ports import LLM, Change, Clock, LLMReply, Store

log = logging.getLogger(__name__)

TABLE = "llm_budget"
CHARS_PER_TOKEN = 4  # rough, provider-independent estimate; real usage is charged afterwards


def estimate_tokens(text: str) -> int:
    """A rough token count for text (about four characters a token)."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


@dataclass(frozen=True)
class DaySpend:
    """What one UTC day's calls have used so far."""

    date: str
    tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0


class LLMBudget:
    """Refuses calls once today's token or cost cap is spent; caps of 0 or less mean no cap.

    Share one instance between every user of the model so its lock serialises the books.
    """

    def __init__(self, store: Store, clock: Clock, settings: LLMSettings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self._lock = asyncio.Lock()  # serialises this process's own book
        self._process = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    def _today(self) -> str:
        return self.clock.now().date().isoformat()

    async def spent_today(self) -> DaySpend:
        """Today's spend across every process's book (zero when nothing was called yet)."""
        date = self._today()
        books = [d for d in await self.store.all(TABLE) if d.get("date") == date]
        return DaySpend(date, sum(int(d.get("tokens", 0)) for d in books),
                        round(sum(float(d.get("cost_usd", 0.0)) for d in books), 6),
                        sum(int(d.get("calls", 0)) for d in books))

    async def ensure_room(self, tokens_needed: int) -> None:
        """Raise BudgetExhaustedError when a call of about `tokens_needed` would pass a cap."""
        spent = await self.spent_today()
        token_cap, cost_cap = self.settings.daily_token_budget, self.settings.daily_cost_budget_usd
        over_tokens = token_cap > 0 and spent.tokens + tokens_needed > token_cap
        over_cost = cost_cap > 0 and spent.cost_usd >= cost_cap
        if not (over_tokens or over_cost):
            return
        resume = self.next_reset()
        log.warning(
            "llm budget spent for %s: tokens=%d/%d cost=%.4f/%.2f USD; next call after %s",
            spent.date, spent.tokens, token_cap, spent.cost_usd, cost_cap, resume.isoformat(),
        )
        error = BudgetExhaustedError(
            "Today's language-model budget is spent; extraction resumes after midnight UTC."
        )
        error.retry_at = resume  # type: ignore[attr-defined]  # lets the pipeline schedule it
        raise error

    def next_reset(self) -> datetime:
        """When the budget starts afresh: the next UTC midnight."""
        now = self.clock.now()
        return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)

    async def charge(self, reply: LLMReply, estimated_tokens: int = 0) -> DaySpend:
        """Add a reply's tokens and cost to today's books (estimate when usage is missing)."""
        tokens = reply.prompt_tokens + reply.completion_tokens
        if tokens <= 0:
            tokens = estimated_tokens + estimate_tokens(reply.text)
        date = self._today()
        key = f"{date}|{self._process}"
        async with self._lock:
            mine = await self.store.get(TABLE, key)
            if mine is None:  # this process's first charge of the day
                await self._drop_books_before(date)
                mine = {}
            await self.store.put(TABLE, key, {
                "date": date, "process": self._process,
                "tokens": int(mine.get("tokens", 0)) + tokens,
                "cost_usd": round(float(mine.get("cost_usd", 0.0)) + max(0.0, reply.cost_usd), 6),
                "calls": int(mine.get("calls", 0)) + 1,
            })
            return await self.spent_today()


    async def _drop_books_before(self, today: str) -> None:
        """Forget every process's books older than yesterday: reading the day's spend scans them."""
        yesterday = (datetime.fromisoformat(today) - timedelta(days=1)).date().isoformat()
        old = [d for d in await self.store.all(TABLE) if str(d.get("date", "")) < yesterday]
        if old:
            await self.store.apply([
                Change(TABLE, f"{d['date']}|{d['process']}" if "process" in d else str(d["date"]), None)
                for d in old])


class BudgetedLLM:
    """The LLM port wrapped with a budget: checks before each call, charges after it."""

    def __init__(self, llm: LLM, budget: LLMBudget) -> None:
        self.inner = llm
        self.budget = budget
        self.model = llm.model

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, json_mode: bool = False
    ) -> LLMReply:
        """One completion within today's budget; raises BudgetExhaustedError when it is spent."""
        prompt_tokens = sum(estimate_tokens(m.get("content", "")) for m in messages)
        await self.budget.ensure_room(prompt_tokens + max_tokens)
        reply = await self.inner.complete(messages, max_tokens=max_tokens, json_mode=json_mode)
        await self.budget.charge(reply, estimated_tokens=prompt_tokens)
        return reply
