"""The daily LLM budget: token and cost caps by UTC day, persisted in the store."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from core.config import LLMSettings
from core.errors import BudgetExhaustedError, LLMError
from core.insights.budget import BudgetedLLM, LLMBudget
from core.ports import LLMReply
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore


class CountingLLM:
    """A hand-written fake of our LLM port: fixed usage and price per call."""

    model = "fake"

    def __init__(self, tokens: tuple[int, int] = (100, 20), cost: float = 0.0) -> None:
        self.tokens, self.cost, self.calls = tokens, cost, 0

    async def complete(
        self, messages: Sequence[Mapping[str, str]], *, max_tokens: int, json_mode: bool = False
    ) -> LLMReply:
        self.calls += 1
        return LLMReply("x" * 40, self.model, *self.tokens, cost_usd=self.cost)


MESSAGES = [{"role": "user", "content": "y" * 400}]  # about 100 tokens


def budgeted(llm: CountingLLM, store: FakeStore, clock: FakeClock, **caps: float) -> BudgetedLLM:
    return BudgetedLLM(llm, LLMBudget(store, clock, LLMSettings(**caps)))  # type: ignore[arg-type]


async def test_the_cost_cap_refuses_calls_once_spent() -> None:
    llm, store, clock = CountingLLM(cost=0.02), FakeStore(), FakeClock()
    model = budgeted(llm, store, clock, daily_cost_budget_usd=0.05)
    for _ in range(3):
        await model.complete(MESSAGES, max_tokens=10)
    with pytest.raises(BudgetExhaustedError, match="budget is spent") as caught:
        await model.complete(MESSAGES, max_tokens=10)
    assert isinstance(caught.value, LLMError) and llm.calls == 3
    spent = await model.budget.spent_today()
    assert spent.cost_usd == pytest.approx(0.06) and spent.calls == 3


async def test_the_token_cap_counts_the_worst_case_of_the_next_call() -> None:
    llm, store, clock = CountingLLM(tokens=(100, 20)), FakeStore(), FakeClock()
    model = budgeted(llm, store, clock, daily_token_budget=500)
    await model.complete(MESSAGES, max_tokens=200)  # needs ~300, has 500
    await model.complete(MESSAGES, max_tokens=200)  # 120 spent + ~300 <= 500
    with pytest.raises(BudgetExhaustedError):
        await model.complete(MESSAGES, max_tokens=200)  # 240 + ~300 > 500
    assert llm.calls == 2


async def test_missing_usage_is_charged_by_estimate() -> None:
    llm, store, clock = CountingLLM(tokens=(0, 0)), FakeStore(), FakeClock()
    model = budgeted(llm, store, clock)
    await model.complete(MESSAGES, max_tokens=10)
    assert (await model.budget.spent_today()).tokens == 100 + 10


async def test_the_budget_survives_a_restart_and_resets_at_utc_midnight() -> None:
    store, clock = FakeStore(), FakeClock(datetime(2026, 11, 28, 23, 50, tzinfo=UTC))
    model = budgeted(CountingLLM(cost=1.0), store, clock, daily_cost_budget_usd=1.0)
    await model.complete(MESSAGES, max_tokens=10)
    restarted = budgeted(CountingLLM(cost=1.0), store, clock, daily_cost_budget_usd=1.0)
    with pytest.raises(BudgetExhaustedError):
        await restarted.complete(MESSAGES, max_tokens=10)
    clock.set(datetime(2026, 11, 29, 0, 0, 1, tzinfo=UTC))
    await restarted.complete(MESSAGES, max_tokens=10)
    assert {key.split("|")[0] for key in store.tables["llm_budget"]} == {"2026-11-28", "2026-11-29"}


class SlowStore(FakeStore):
    """A store whose reads take a moment to come back, as a database's do: other tasks run meanwhile."""

    async def get(self, table: str, key: str):  # type: ignore[no-untyped-def]
        found = await super().get(table, key)
        await asyncio.sleep(0)  # the answer is on its way back while others run
        return found


async def test_two_processes_charging_at_once_lose_no_charge() -> None:
    """Two extraction workers on one database: each keeps its own book, the day sums them."""
    store, clock = SlowStore(), FakeClock()
    workers = [budgeted(CountingLLM(tokens=(100, 20), cost=0.01), store, clock) for _ in range(2)]
    await asyncio.gather(*(w.complete(MESSAGES, max_tokens=10) for w in workers for _ in range(10)))
    spent = await workers[0].budget.spent_today()
    assert (spent.calls, spent.tokens, spent.cost_usd) == (20, 20 * 120, 0.2)


async def test_caps_of_zero_mean_no_cap() -> None:
    llm = CountingLLM(tokens=(10**6, 10**6), cost=100.0)
    model = budgeted(llm, FakeStore(), FakeClock(), daily_token_budget=0, daily_cost_budget_usd=0)
    for _ in range(3):
        await model.complete(MESSAGES, max_tokens=10)
    assert llm.calls == 3


async def test_books_older_than_yesterday_are_dropped_at_a_days_first_charge() -> None:
    store, clock = FakeStore(), FakeClock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    for day in (25, 27, 28):
        clock.set(datetime(2026, 11, day, 12, tzinfo=UTC))
        await budgeted(CountingLLM(), store, clock).complete(MESSAGES, max_tokens=10)
    assert {key.split("|")[0] for key in store.tables["llm_budget"]} == {"2026-11-27", "2026-11-28"}

