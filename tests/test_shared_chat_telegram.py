"""Groups cannot be flooded or told secrets: /today once an hour, /export for admins, no tokens.

Issue 12, cases 4 and 5, through the real PTB bot, the real core and the fake Bot API.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from core.models import Feed
from tests.fakes.telegram_api import FakeTelegramApi
from tests.test_telegram_real_service import ADA, TODAY, World, at
from tests.test_telegram_real_service import world as world  # the fixture, used by name

pytestmark = pytest.mark.timeout(30)
GROUP = -1007001  # a private supergroup: its messages have t.me/c/7001/<id> links
BASIC_GROUP = -7002  # a basic group: no message links at all
PUBLIC = Feed(id="pubfeed", url="https://example.org/public.xml", title="Public Show")
PRIVATE = Feed(id="privfeed", url="https://feeds.example.com/episodes/8f3a9c2e1b7d4f6a.rss?key=s3cr3t",
               title="Private Show", private=True)


def sends(fake: FakeTelegramApi, chat: int, after: int) -> list[dict[str, Any]]:
    return [r.params for r in fake.requests[after:]
            if r.method == "sendMessage" and r.params["chat_id"] == chat]


async def today_in(world: World, chat: int, user: int) -> None:
    world.fake.push_message(chat, "/today", user_id=user)


async def settled(fake: FakeTelegramApi, chat: int, after: int, count: int) -> list[dict[str, Any]]:
    """The messages sent to `chat` once `count` have gone out and nothing more follows."""
    await fake.wait_until(lambda: len(sends(fake, chat, after)) >= count)
    await asyncio.sleep(0.3)  # anything extra would be on its way by now
    return sends(fake, chat, after)


async def group_with_admin(world: World, chat: int) -> None:
    world.fake.set_member(chat, ADA, "creator")
    await world.start(chat, user_id=ADA)


async def test_six_today_in_a_group_within_a_minute_post_the_five_once_and_point_five_times(
        world: World) -> None:
    await group_with_admin(world, GROUP)
    mark = world.fake.mark()
    for n in range(6):  # six members, ten seconds apart
        await today_in(world, GROUP, 5200 + n)
        await world.fake.wait_until(lambda k=n: len(sends(world.fake, GROUP, mark)) >= 5 + k)
        world.clock.advance(seconds=10)
    sent = await settled(world.fake, GROUP, mark, 10)
    assert len(sent) == 10, [p["text"][:40] for p in sent]  # before: 30 (five posts of five)
    digest, pointers = sent[:5], sent[5:]
    first = world.message_id_of(GROUP, digest[0]["text"])
    for pointer in pointers:
        assert pointer["text"].startswith("📌 Today's five were posted here")
        assert f"https://t.me/c/7001/{first}" in pointer["text"]
        assert pointer["reply_parameters"]["message_id"] == first  # tapping the quote jumps there
        assert "/today works here again in " in pointer["text"] and len(pointer["text"]) < 160


async def test_a_burst_of_today_in_a_group_posts_the_five_once(world: World) -> None:
    await group_with_admin(world, GROUP)
    mark = world.fake.mark()
    for n in range(6):  # all at once: PTB runs them concurrently
        await today_in(world, GROUP, 5300 + n)
    sent = await settled(world.fake, GROUP, mark, 10)
    assert len([p for p in sent if "reply_markup" in p]) == 5  # the insights, with their buttons
    assert len([p for p in sent if p["text"].startswith("📌")]) == 5, [p["text"][:60] for p in sent]


async def test_in_a_basic_group_the_pointer_is_a_reply_to_the_post(world: World) -> None:
    await group_with_admin(world, BASIC_GROUP)
    mark = world.fake.mark()
    await today_in(world, BASIC_GROUP, 5400)
    await settled(world.fake, BASIC_GROUP, mark, 5)
    mark2 = world.fake.mark()
    await today_in(world, BASIC_GROUP, 5401)
    (pointer,) = await settled(world.fake, BASIC_GROUP, mark2, 1)
    assert "t.me" not in pointer["text"] and pointer["reply_parameters"]["message_id"]


async def test_an_hour_later_today_posts_the_five_again_and_private_chats_are_never_held(
        world: World) -> None:
    await group_with_admin(world, GROUP)
    mark = world.fake.mark()
    await today_in(world, GROUP, 5500)
    await settled(world.fake, GROUP, mark, 5)
    world.clock.set(at(TODAY, "08:00:01"))
    mark = world.fake.mark()
    await today_in(world, GROUP, 5501)
    assert len([p for p in await settled(world.fake, GROUP, mark, 5) if "reply_markup" in p]) == 5
    await world.start(ADA)
    mark = world.fake.mark()
    for n in range(2):  # one after the other (a burst in one chat races in the ledger; not ours)
        await today_in(world, ADA, ADA)
        await world.fake.wait_until(lambda k=n: len(sends(world.fake, ADA, mark)) >= 5 * (k + 1))
    own = await settled(world.fake, ADA, mark, 10)
    assert len(own) == 10, [p["text"][:60] for p in own]  # a person's own chat: as asked


async def follow(world: World, chat: int) -> None:
    repos = world.services.repos
    for feed in (PUBLIC, PRIVATE):
        await repos.feeds.put(feed)
    sub = await repos.subscribers.get(f"telegram:{chat}")
    await repos.subscribers.put(dataclasses.replace(sub, feed_ids=(PUBLIC.id, PRIVATE.id)))


async def export(world: World, chat: int, user: int, command: str = "/export"
                 ) -> tuple[dict[str, Any], bytes] | str:
    """The document and its bytes, or the refusal's text."""
    mark = world.fake.mark()
    world.fake.push_message(chat, command, user_id=user)
    await world.fake.wait_until(lambda: any(
        r.method in ("sendDocument", "sendMessage") for r in world.fake.requests[mark:]))
    request = next(r for r in world.fake.requests[mark:] if r.method in ("sendDocument", "sendMessage"))
    if request.method == "sendMessage":
        return str(request.params["text"])
    return request.params, request.files["document"][1]


@pytest.mark.parametrize("command", ["/export", "/export insights"])
async def test_export_in_a_group_is_refused_to_a_member(world: World, command: str) -> None:
    await group_with_admin(world, GROUP)
    await follow(world, GROUP)
    refused = await export(world, GROUP, 5600, command)
    assert refused == "Only this chat's admins can change its Castfive settings."
    assert not world.fake.calls("sendDocument")


async def test_export_in_a_group_replaces_the_private_feed_secret_and_says_so(world: World) -> None:
    await group_with_admin(world, GROUP)
    await follow(world, GROUP)
    sent = await export(world, GROUP, ADA)
    assert not isinstance(sent, str)
    params, opml = sent
    assert b"8f3a9c2e1b7d4f6a" not in opml and b"s3cr3t" not in opml
    assert b'xmlUrl="https://feeds.example.com/episodes/***.rss?key=***"' in opml
    assert b'xmlUrl="https://example.org/public.xml"' in opml
    assert "1 private feed address has its secret part replaced with ***" in params["caption"]


async def test_export_in_a_private_chat_gives_the_whole_private_address(world: World) -> None:
    await world.start(ADA)
    await follow(world, ADA)
    sent = await export(world, ADA, ADA)
    assert not isinstance(sent, str)
    params, opml = sent
    assert b"8f3a9c2e1b7d4f6a.rss?key=s3cr3t" in opml and "***" not in params["caption"]


async def test_a_today_post_that_failed_to_send_does_not_hold_the_group_for_the_hour(world: World) -> None:
    await group_with_admin(world, GROUP)
    world.fake.fail("sendMessage", 400, "Bad Request: not enough rights to send text messages",
                    when=lambda p: p.get("chat_id") == GROUP)
    mark = world.fake.mark()
    await today_in(world, GROUP, 5700)
    await world.fake.wait_until(lambda: any(r.method == "sendMessage" for r in world.fake.requests[mark:]))
    await asyncio.sleep(0.3)  # the failed send's handler finishes
    mark = world.fake.mark()
    await today_in(world, GROUP, 5701)  # the rights are back
    sent = await settled(world.fake, GROUP, mark, 5)
    assert len(sent) == 5 and not sent[0]["text"].startswith("📌")  # before: a pointer at nothing
