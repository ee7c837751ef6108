"""Daily posts through DiscordAdapter as a ChatPort: embeds, buttons, no pings, outcomes, removals."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from core.models import OutcomeKind
from tests.fakes.discord_payloads import CHANNEL_ID, DM_CHANNEL_ID, OTHER_CHANNEL_ID
from tests.fakes.fake_castfive_api import make_item

if TYPE_CHECKING:
    from tests.fakes.discord_world import World



async def test_a_daily_post_is_an_embed_with_ask_up_and_down_buttons(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    item = make_item(1)
    outcome = await world.adapter.send_digest_item(sub, item)
    (message,) = world.fake.channel_messages(CHANNEL_ID)
    assert outcome.kind == OutcomeKind.DELIVERED and outcome.message_ids == (message["id"],)
    assert message["embeds"][0]["author"]["name"] == "🎙 Hard Fork"
    assert [b["custom_id"] for b in message["components"][0]["components"]] == [
        f"castfive:ask:{item.insight.id}", f"castfive:up:{item.insight.id}",
        f"castfive:down:{item.insight.id}"]


async def test_everyone_in_a_feed_title_or_transcript_pings_nobody(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    item = dataclasses.replace(make_item(1, text="@everyone look <@&1> @here", quote="@everyone"),
                               show_title="@everyone Show")
    await world.adapter.send_digest_item(sub, item)
    await world.adapter.send_notice(sub, "@everyone nothing new today")
    messages = world.fake.channel_messages(CHANNEL_ID)
    assert len(messages) == 2
    assert all(world.fake.bodies[m["id"]]["allowed_mentions"] == {"parse": []} for m in messages)


async def test_a_dm_subscriber_gets_posts_in_the_dm_channel(world: World) -> None:
    sub = await world.subscriber(DM_CHANNEL_ID)
    outcome = await world.adapter.send_digest_item(sub, make_item(2))
    assert outcome.kind == OutcomeKind.DELIVERED and len(world.fake.channel_messages(DM_CHANNEL_ID)) == 1


async def test_missing_permissions_access_or_an_unknown_channel_is_gone(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    for status, code in [(403, 50013), (403, 50001), (404, 10003)]:
        world.fake.fail_channel(CHANNEL_ID, status, code)
        outcome = await world.adapter.send_digest_item(sub, make_item(1))
        assert outcome.kind == OutcomeKind.GONE and outcome.reason == f"discord {status}/{code}"


async def test_a_server_error_is_transient(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    world.fake.fail_channel(CHANNEL_ID, 503, 0)  # 500/502/504 discord.py retries itself for ~25 s
    assert (await world.adapter.send_notice(sub, "hello")).kind == OutcomeKind.TRANSIENT


async def test_a_429_is_retried_by_discord_py_itself(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    world.fake.fail_channel(CHANNEL_ID, 429, retry_after=0.05, times=2)
    outcome = await world.adapter.send_digest_item(sub, make_item(1))
    assert outcome.kind == OutcomeKind.DELIVERED
    assert len(world.fake.calls("POST", f"/channels/{CHANNEL_ID}/messages")) == 3


async def test_an_unreachable_discord_is_transient(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    await world.fake.close()
    assert (await world.adapter.send_notice(sub, "hello")).kind == OutcomeKind.TRANSIENT


async def test_sends_before_start_are_transient_not_errors(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    assert (await world.new_adapter().send_notice(sub, "x")).kind == OutcomeKind.TRANSIENT


async def test_a_long_notice_is_split_at_2000_characters(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    outcome = await world.adapter.send_notice(sub, ("A line of news. " * 20 + "\n") * 30)
    messages = world.fake.channel_messages(CHANNEL_ID)
    assert len(outcome.message_ids) == len(messages) > 1
    assert all(len(m["content"]) <= 2000 for m in messages)


async def test_three_refusals_in_a_row_through_delivery_deactivate_the_channel(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    world.fake.fail_channel(CHANNEL_ID, 403, 50013, times=3)
    report = await world.services.delivery.tick()
    after = await world.api.get_subscriber(sub.id)
    assert report.deactivated == [sub.id] and not after.active and after.consecutive_gone == 3
    assert len(world.fake.calls("POST", f"/channels/{CHANNEL_ID}/messages")) == 3  # then it stops trying


async def test_two_refusals_then_a_post_keep_the_channel(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    world.fake.fail_channel(CHANNEL_ID, 404, 10003, times=2)
    report = await world.services.delivery.tick()
    after = await world.api.get_subscriber(sub.id)
    assert after.active and after.consecutive_gone == 0 and report.messages_sent == 3


async def test_a_scheduled_digest_posts_five_insights_with_their_message_links(world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    report = await world.services.delivery.tick()
    messages = world.fake.channel_messages(CHANNEL_ID)
    assert report.messages_sent == 5 and len(messages) == 5
    assert "Today's Castfive" in messages[0]["content"]
    ref = await world.api.lookup_message(sub.id, messages[1]["id"])
    assert ref is not None and ref.conversation_id == f"{sub.id}:{messages[1]['id']}"


async def test_being_removed_from_a_server_stops_its_channels(world: World) -> None:
    first = await world.subscriber(CHANNEL_ID)
    second = await world.subscriber(OTHER_CHANNEL_ID)
    dm = await world.subscriber(DM_CHANNEL_ID)
    await world.fake.remove_guild()
    assert await eventually_inactive(world, first.id) and await eventually_inactive(world, second.id)
    assert (await world.api.get_subscriber(dm.id)).active


async def test_a_deleted_channel_stops_its_subscription(world: World) -> None:
    sub = await world.subscriber(OTHER_CHANNEL_ID)
    await world.fake.delete_channel(OTHER_CHANNEL_ID)
    assert await eventually_inactive(world, sub.id)


async def eventually_inactive(world: World, subscriber_id: str) -> bool:
    """Gateway events land asynchronously: poll the subscriber for up to two seconds."""
    for _ in range(200):
        if not (await world.api.get_subscriber(subscriber_id)).active:
            return True
        await asyncio.sleep(0.01)
    return False
