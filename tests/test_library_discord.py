"""`/castfive search` and `export` through a real discord.py client, FakeDiscord and the real core."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest

from bot import discord_library
from core.models import Insight
from tests.fakes.discord_payloads import CHANNEL_ID, DM_CHANNEL_ID, EPHEMERAL, MEMBER_ID
from tests.fakes.discord_world import NOW
from tests.library_world import send

if TYPE_CHECKING:
    from tests.fakes.discord_api import Interaction
    from tests.fakes.discord_world import World

SUB = f"discord:{CHANNEL_ID}"
pytestmark = pytest.mark.timeout(30)


async def sent_world(world: World, ids: tuple[str, ...] = ("i01", "i10")) -> None:
    await world.subscriber(CHANNEL_ID)
    await send(world.services, SUB, [i for i in world.insights if i.id in ids], "2026-11-28")


async def first(world: World, ix: Interaction) -> dict[str, Any]:
    return (await world.fake.reply_to(ix))[0]


async def test_search_shows_hits_with_show_episode_moment_and_id(world: World) -> None:
    await sent_world(world)
    ix = await world.fake.slash("castfive", "search", options={"words": "battery prices"}, user_id=MEMBER_ID)
    message = await first(world, ix)
    (embed,) = message["embeds"]
    assert "“battery prices”" in embed["title"] and "2 matches" in embed["title"]
    assert "💡 Battery prices fell" in embed["description"]
    assert "[\\[00:30\\]](https://example.org/0.mp3#t=30)" in embed["description"]
    assert "`i01`" in embed["description"] and "**Show 0** — Episode 0" in embed["description"]
    assert "📝" in embed["description"] and "**Show 2**" in embed["description"]  # a transcript passage
    assert not message["components"]


async def test_search_in_another_chat_never_shows_this_channels_insights(world: World) -> None:
    await sent_world(world)
    await world.api.subscribe("discord", str(DM_CHANNEL_ID), "dm")
    other = await world.api.get_subscriber(f"discord:{DM_CHANNEL_ID}")
    await world.services.repos.subscribers.put(type(other)(**{**other.__dict__, "feed_ids": ()}))  # type: ignore[arg-type,union-attr]
    message = await first(world, await world.fake.slash("castfive", "search", options={"words": "battery"},
                                                        user_id=MEMBER_ID, channel_id=DM_CHANNEL_ID, dm=True))
    assert "Nothing found" in message["embeds"][0]["description"]


async def test_search_pages_with_buttons_and_a_stale_button_is_refused(world: World) -> None:
    await sent_world(world)
    many = [Insight(id=f"v{n:02d}", episode_id="ep0", feed_id="feed0", text=f"Volcanic ash fact {n}.",
                    quote=f"volcanic ash fact number {n}", start=1000.0 + n, end=1010.0 + n, created_at=NOW)
            for n in range(25)]
    await world.services.store.apply(world.services.repos.insights.changes(many))
    await send(world.services, SUB, many, "2026-11-29")
    message = await first(world, await world.fake.slash("castfive", "search", options={"words": "volcanic"}))
    assert "page 1/3" in message["embeds"][0]["title"]
    (button,) = message["components"][0]["components"]
    assert button["label"] == "Next ▶" and button["custom_id"].endswith(":1")
    update = await world.fake.callback(await world.fake.click(message, button["custom_id"]))
    assert update["type"] == 7 and "**11.**" in update["data"]["embeds"][0]["description"]
    assert [b["label"] for b in update["data"]["components"][0]["components"]] == ["◀ Previous", "Next ▶"]
    # Discord only sends clicks on a message's real buttons; one whose search has since been
    # forgotten (20 newer searches later) names an id the core no longer knows
    for n in range(20):
        await world.services.api.library.search(SUB, f"volcanic {n}")
    stale = await first(world, await world.fake.click(message, button["custom_id"]))
    assert "expired" in stale["content"] and stale["flags"] & EPHEMERAL


async def test_search_autocompletes_recent_searches_and_the_best_live_match(world: World) -> None:
    await sent_world(world)
    await first(world, await world.fake.slash("castfive", "search", options={"words": "battery prices"}))
    ix = await world.fake.slash("castfive", "search", options={"words": "batt"}, focused="words")
    choices = (await world.fake.callback(ix))["data"]["choices"]
    assert {"name": "🕘 battery prices", "value": "battery prices"} in choices
    ix = await world.fake.slash("castfive", "search", options={"words": "battery"}, focused="words")
    live = (await world.fake.callback(ix))["data"]["choices"][0]
    assert live["value"] == "battery" and live["name"].startswith("🔎 Show 0 · Battery prices")
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100
               for c in (await world.fake.callback(await world.fake.slash(
                   "castfive", "search", options={"words": "x" * 300}, focused="words")))["data"]["choices"])


async def test_search_refuses_a_query_over_the_limit_and_says_when_words_are_too_common(
        world: World) -> None:
    await sent_world(world)
    long = await first(world, await world.fake.slash("castfive", "search",
                                                     options={"words": "volcano " * 60}))
    assert "under 200 characters" in long["content"] and long["flags"] & EPHEMERAL
    common = await first(world, await world.fake.slash("castfive", "search", options={"words": "the of and"}))
    assert "too common" in common["embeds"][0]["description"]


async def test_export_sends_markdown_and_readwise_csv_privately(world: World) -> None:
    await sent_world(world)
    ix = await world.fake.slash("castfive", "export", user_id=MEMBER_ID)
    message = await first(world, ix)
    assert message["flags"] & EPHEMERAL
    names = [a["filename"] for a in message["attachments"]]
    assert names == ["castfive-insights.md", "castfive-insights.csv"]
    files = {k: v for r in world.fake.requests for k, v in r.files.items()}
    rows = list(csv.DictReader(io.StringIO(files["castfive-insights.csv"].decode("utf-8"))))
    assert {r["Highlight"] for r in rows} == {i.quote for i in world.insights if i.id in ("i01", "i10")}
    assert files["castfive-insights.md"].startswith(b"---\nshow: ")


async def test_export_since_a_bad_date_is_told_why_and_big_exports_come_in_parts(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    await sent_world(world)
    bad = await first(world, await world.fake.slash("castfive", "export", options={"since": "28/11/2026"}))
    assert "YYYY-MM-DD" in bad["content"] and bad["flags"] & EPHEMERAL
    none = await first(world, await world.fake.slash("castfive", "export", options={"since": "2026-12-01"}))
    assert "nothing to export" in none["content"]
    monkeypatch.setattr(discord_library, "EXPORT_LIMIT", 700)
    ix = await world.fake.slash("castfive", "export")
    message = await first(world, ix)
    names = [a["filename"] for a in message["attachments"]]
    assert len(names) == 4 and names[0] == "castfive-insights-part1of2.md"
