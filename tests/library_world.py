"""A seeded core for the library tests: three operator shows, transcripts, chats that were sent some.

Show 0 and 1 are the operator's; show 2 is a private (tokened) user feed that only ADA follows
and was sent from. Every episode's transcript holds its insights' quotes plus one line nobody
was sent (`EXTRA_LINE`), so a search can tell insight hits from transcript hits.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from core.bootstrap import Services
from core.models import Insight, Segment, Transcript
from core.store.blobs import save_transcript
from core.store.repos import LedgerEntry, LedgerMessage
from tests.fakes.seed import seed

ADA, BOB = "telegram:5101", "telegram:5102"
EXTRA_LINE = "Later the guest described a volcanic eruption that grounded every flight in {show}"
SENT_DAY = "2026-11-28"


async def seed_library(services: Services, *, ada_chat: str = ADA, bob_chat: str = BOB) -> list[Insight]:
    """Seed shows, transcripts and two subscribers; `ada_chat` was sent five insights."""
    insights = await seed(services.repos, feeds=3, per_feed=4)
    private = await services.repos.feeds.get("feed2")
    assert private is not None
    await services.repos.feeds.put(dataclasses.replace(
        private, origin="user", private=True, url="https://example.org/2.xml?token=s3cret"))
    for episode_id in sorted({i.episode_id for i in insights}):
        mine = [i for i in insights if i.episode_id == episode_id]
        show = f"show {episode_id[-1]}"
        segments = tuple(Segment(i.start, i.end, i.quote) for i in mine) + (
            Segment(900.0, 930.0, EXTRA_LINE.format(show=show)),)
        await save_transcript(services.store, Transcript(episode_id, segments, source="test"))
    for chat, feeds in ((ada_chat, ("feed0", "feed1", "feed2")), (bob_chat, ("feed1",))):
        platform, chat_id = chat.split(":", 1)
        sub = await services.api.subscribe(platform, chat_id, chat)
        await services.repos.subscribers.put(dataclasses.replace(sub, feed_ids=feeds))
    sent = [i for i in insights if i.id in ("i00", "i01", "i10", "i20", "i21")]
    await send(services, ada_chat, sent, SENT_DAY)
    return insights


async def send(services: Services, subscriber_id: str, insights: list[Insight], day: str) -> None:
    """Record a digest of `insights` as delivered to the subscriber on `day`."""
    entry = LedgerEntry(subscriber_id, day, tuple(LedgerMessage(i.id, "sent") for i in insights),
                        datetime.fromisoformat(f"{day}T08:00:00+00:00").astimezone(UTC), finished=True)
    await services.repos.ledger.put(entry)
    services.delivery.history.record(entry)
