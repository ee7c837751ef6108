"""Server channels cannot be flooded or told secrets: /castfive today once an hour, no tokens.

Issue 12, cases 4 and 5, through the real discord.py client, the real core and the fake Discord.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from core.models import Feed
from tests.fakes.discord_payloads import (
    ADMIN_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_ID,
)

if TYPE_CHECKING:
    from tests.fakes.discord_world import World

pytestmark = pytest.mark.timeout(30)
PUBLIC = Feed(id="pubfeed", url="https://example.org/public.xml", title="Public Show")
PRIVATE = Feed(id="privfeed", url="https://feeds.example.com/episodes/8f3a9c2e1b7d4f6a.rss?key=s3cr3t",
               title="Private Show", private=True)


async def today(world: World, user: int, *, channel: int = CHANNEL_ID, count: int = 1) -> list[dict]:
    dm = channel == DM_CHANNEL_ID
    ix = await world.fake.slash("castfive", "today", user_id=user, channel_id=channel, dm=dm)
    return await world.fake.reply_to(ix, count)


async def test_six_today_in_a_channel_within_a_minute_post_the_five_once_and_point_five_times(
        world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    posted = await today(world, MEMBER_ID, count=5)
    assert not any(m["flags"] & EPHEMERAL for m in posted)
    for n in range(5):  # five more members, ten seconds apart
        world.clock.advance(seconds=10)
        (pointer,) = await today(world, MEMBER_ID + 1 + n)
        assert pointer["flags"] & EPHEMERAL  # seen by the one who asked, not the channel
        link = f"https://discord.com/channels/{GUILD_ID}/{CHANNEL_ID}/{posted[0]['id']}"
        assert pointer["content"].startswith("📌 Today's five were posted here <t:")
        assert link in pointer["content"]
        assert "/castfive today works here again <t:" in pointer["content"]
    public = [m for ix in world.fake.interactions.values() for m in ix.messages
              if not m["flags"] & EPHEMERAL]
    assert len(public) == 5  # before: 30 messages in the channel


async def test_an_hour_later_it_posts_again_and_a_dm_is_never_held(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    await today(world, MEMBER_ID, count=5)
    world.clock.advance(minutes=61)
    again = await today(world, MEMBER_ID, count=5)
    assert not any(m["flags"] & EPHEMERAL for m in again)
    await world.subscriber(DM_CHANNEL_ID)
    for _ in range(2):
        assert len(await today(world, MEMBER_ID, channel=DM_CHANNEL_ID, count=5)) == 5


async def follow(world: World, chat: int) -> None:
    repos = world.services.repos
    for feed in (PUBLIC, PRIVATE):
        await repos.feeds.put(feed)
    sub = await world.subscriber(chat)
    await repos.subscribers.put(dataclasses.replace(sub, feed_ids=(PUBLIC.id, PRIVATE.id)))


async def export(world: World, *, channel: int, user: int) -> tuple[str, bytes]:
    dm = channel == DM_CHANNEL_ID
    ix = await world.fake.slash("castfive", "feeds", "export", user_id=user, channel_id=channel, dm=dm)
    (message,) = await world.fake.reply_to(ix)
    request = world.fake.calls("POST", f"/interactions/{ix.id}")[-1]
    return message["content"], request.files["castfive.opml"]


async def test_export_in_a_server_channel_replaces_the_private_feed_secret_and_says_so(
        world: World) -> None:
    await follow(world, CHANNEL_ID)
    caption, opml = await export(world, channel=CHANNEL_ID, user=ADMIN_ID)
    assert b"8f3a9c2e1b7d4f6a" not in opml and b"s3cr3t" not in opml
    assert b'xmlUrl="https://feeds.example.com/episodes/***.rss?key=***"' in opml
    assert b'xmlUrl="https://example.org/public.xml"' in opml
    assert "1 private feed address has its secret part replaced with ***" in caption


async def test_export_in_a_dm_gives_the_whole_private_address(world: World) -> None:
    await follow(world, DM_CHANNEL_ID)
    caption, opml = await export(world, channel=DM_CHANNEL_ID, user=MEMBER_ID)
    assert b"8f3a9c2e1b7d4f6a.rss?key=s3cr3t" in opml and "***" not in caption
