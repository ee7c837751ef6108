"""In distributed mode the workers store insights past the bot's search index: the bot catches up."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from core.bootstrap import build_services
from core.config import Settings
from core.jobs.distributed.scheduler import INDEX_REFRESH, DistributedScheduler
from core.store.codec import to_doc
from core.store.repos import LedgerEntry, LedgerMessage
from tests.fakes.clock import FakeClock
from tests.fakes.dispatcher import RecordingDispatcher
from tests.fakes.memory_store import FakeStore
from tests.library_world import ADA, SENT_DAY, seed_library
from tests.test_pipeline import NoFetcher

WORDS = "Geothermal drilling borrows every trick the shale industry learned"


async def test_insights_a_worker_stored_are_found_after_the_bots_poll_job_catches_up() -> None:
    services = build_services(Settings(), clock=FakeClock(), store=FakeStore(), fetcher=NoFetcher(),
                              transcriber=object())  # type: ignore[arg-type]
    insights = await seed_library(services)
    await services.api.library.caught_up()
    # What an extraction worker writes: straight into the shared database, not through this
    # process's IndexingStore (its index lives in another process).
    theirs = dataclasses.replace(insights[0], id="w01", text=f"{WORDS}.", quote=WORDS)
    shared = services.store.inner  # type: ignore[attr-defined]
    await shared.put("insights", theirs.id, to_doc(theirs))
    entry = LedgerEntry(ADA, SENT_DAY, (LedgerMessage(theirs.id, "sent"),), services.clock.now(),
                        finished=True)
    await services.repos.ledger.put(entry)
    services.delivery.history.record(entry)
    assert not (await services.api.library.search(ADA, "geothermal shale")).hits

    scheduler = DistributedScheduler(services, RecordingDispatcher())
    await scheduler.poll_and_process()
    await services.api.library.caught_up()
    hits = (await services.api.library.search(ADA, "geothermal shale")).hits
    assert [h.insight_id for h in hits] == ["w01"]


async def test_the_catch_up_runs_at_most_once_per_refresh_interval() -> None:
    services = build_services(Settings(), clock=FakeClock(), store=FakeStore(), fetcher=NoFetcher(),
                              transcriber=object())  # type: ignore[arg-type]
    calls = []
    services.api.library.refresh = lambda: calls.append(services.clock.now())  # type: ignore[method-assign]
    scheduler = DistributedScheduler(services, RecordingDispatcher())
    await scheduler.poll_and_process()
    await scheduler.poll_and_process()
    services.clock.set(services.clock.now() + INDEX_REFRESH + timedelta(seconds=1))  # type: ignore[attr-defined]
    await scheduler.poll_and_process()
    assert len(calls) == 2
