"""The /castfive commands through a real discord.py client against FakeDiscord and the real service."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from bot.render_discord import NEED_MANAGE_SERVER
from tests.fakes.discord_payloads import (
    ADMIN_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    EPHEMERAL,
    MEMBER_ID,
    MUTED_CHANNEL_ID,
    OTHER_CHANNEL_ID,
    ChannelRef,
    FileRef,
)

OPML = b"""<?xml version="1.0"?><opml version="2.0"><body>
<outline type="rss" text="Hard Fork" xmlUrl="https://feeds.example.org/hardfork.xml"/>
<outline type="rss" text="Broken" xmlUrl="file:///etc/passwd"/></body></opml>"""

ADMIN_COMMANDS = [
    (("castfive", "subscribe"), {"channel": ChannelRef(OTHER_CHANNEL_ID)}),
    (("castfive", "unsubscribe"), {}),
    (("castfive", "time"), {"time": "07:30"}),
    (("castfive", "feeds", "list"), {}),
    (("castfive", "feeds", "add"), {"url_or_name": "https://feeds.example.org/hardfork.xml"}),
    (("castfive", "feeds", "remove"), {"feed": "feed0"}),
    (("castfive", "feeds", "import"), {"file": FileRef("subs.opml", OPML)}),
    (("castfive", "feeds", "export"), {}),
]

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord, Interaction
    from tests.fakes.discord_world import World



async def answer(fake: FakeDiscord, ix: Interaction) -> dict:
    """The first message answering an interaction."""
    return (await fake.reply_to(ix))[0]


def ephemeral(message: dict) -> bool:
    return bool(message["flags"] & EPHEMERAL)


async def test_commands_are_published_as_one_castfive_group(world: World) -> None:
    (group,) = world.fake.commands
    assert group["name"] == "castfive"
    names = {o["name"] for o in group["options"]}
    assert names == {"today", "ask", "subscribe", "unsubscribe", "time", "feeds", "search", "export",
                     "topics"}
    feeds = next(o for o in group["options"] if o["name"] == "feeds")
    assert {o["name"] for o in feeds["options"]} == {"list", "add", "remove", "import", "export"}


@pytest.mark.parametrize("path, options", ADMIN_COMMANDS,
                         ids=lambda p: "-".join(p) if isinstance(p, tuple) else "")
async def test_settings_commands_refuse_a_member_without_manage_server(
        world: World, path: tuple[str, ...], options: dict) -> None:
    await world.subscriber(CHANNEL_ID)
    before = await world.api.get_subscriber(f"discord:{CHANNEL_ID}")
    ix = await world.fake.slash(*path, options=options, user_id=MEMBER_ID)
    message = await answer(world.fake, ix)
    assert message["content"] == NEED_MANAGE_SERVER and ephemeral(message)
    assert await world.api.get_subscriber(f"discord:{CHANNEL_ID}") == before
    assert await world.api.get_subscriber(f"discord:{OTHER_CHANNEL_ID}") is None


async def test_subscribe_by_an_admin_subscribes_the_channel_named_with_time_and_zone(world: World) -> None:
    ix = await world.fake.slash("castfive", "subscribe", options={
        "channel": ChannelRef(OTHER_CHANNEL_ID), "time": "7:30", "zone": "Europe/Berlin"})
    message = await answer(world.fake, ix)
    sub = await world.api.get_subscriber(f"discord:{OTHER_CHANNEL_ID}")
    assert (sub.chat_id, sub.delivery_time, sub.timezone) == (str(OTHER_CHANNEL_ID), "07:30", "Europe/Berlin")
    assert sub.title == "#general (Pod Club)"
    assert f"<#{OTHER_CHANNEL_ID}>" in message["content"] and "**07:30**" in message["content"]
    assert not ephemeral(message)


async def test_subscribe_defaults_to_the_current_channel(world: World) -> None:
    await answer(world.fake, await world.fake.slash("castfive", "subscribe"))
    assert (await world.api.get_subscriber(f"discord:{CHANNEL_ID}")).active


async def test_subscribe_where_the_bot_cannot_post_says_which_permissions_it_needs(world: World) -> None:
    ix = await world.fake.slash("castfive", "subscribe", options={"channel": ChannelRef(MUTED_CHANNEL_ID)})
    message = await answer(world.fake, ix)
    assert "Send Messages" in message["content"] and ephemeral(message)
    assert await world.api.get_subscriber(f"discord:{MUTED_CHANNEL_ID}") is None


async def test_in_a_direct_message_any_user_subscribes_themselves(world: World) -> None:
    ix = await world.fake.slash("castfive", "subscribe", options={"time": "06:45"}, user_id=MEMBER_ID,
                                channel_id=DM_CHANNEL_ID, dm=True)
    message = await answer(world.fake, ix)
    sub = await world.api.get_subscriber(f"discord:{DM_CHANNEL_ID}")
    assert sub.active and sub.delivery_time == "06:45" and "this chat" in message["content"]


async def test_unsubscribe_stops_the_channel(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ix = await world.fake.slash("castfive", "unsubscribe", options={"channel": ChannelRef(CHANNEL_ID)})
    assert "No more daily insights" in (await answer(world.fake, ix))["content"]
    assert not (await world.api.get_subscriber(f"discord:{CHANNEL_ID}")).active


async def test_time_changes_the_delivery_time_and_a_bad_time_is_explained_privately(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ok = await answer(world.fake, await world.fake.slash("castfive", "time", options={
        "time": "18:05", "zone": "Asia/Tokyo"}))
    sub = await world.api.get_subscriber(f"discord:{CHANNEL_ID}")
    assert (sub.delivery_time, sub.timezone) == ("18:05", "Asia/Tokyo") and "**18:05**" in ok["content"]
    bad = await answer(world.fake, await world.fake.slash("castfive", "time", options={"time": "25:99"}))
    assert bad["content"].startswith("The time") and ephemeral(bad)


async def test_commands_in_an_unsubscribed_channel_say_to_subscribe_first(world: World) -> None:
    message = await answer(world.fake, await world.fake.slash("castfive", "today", user_id=MEMBER_ID))
    assert "subscribe" in message["content"] and ephemeral(message)


async def test_feeds_add_list_remove_by_an_admin(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    fake = world.fake
    added = await answer(fake, await fake.slash("castfive", "feeds", "add", options={
        "url_or_name": "https://feeds.example.org/hardfork.xml"}))
    assert added["content"].startswith("➕ Added **Hard Fork**")
    listed = await answer(fake, await fake.slash("castfive", "feeds", "list"))
    assert "Hard Fork" in listed["content"]
    feed_id = next(f.id for f in await world.api.list_feeds(f"discord:{CHANNEL_ID}")
                   if f.title == "Hard Fork")
    choices = await fake.callback(await fake.slash("castfive", "feeds", "remove", options={"feed": "hard"},
                                                   focused="feed"))
    assert choices["type"] == 8 and choices["data"]["choices"] == [{"name": "Hard Fork", "value": feed_id}]
    removed = await answer(fake, await fake.slash("castfive", "feeds", "remove", options={"feed": feed_id}))
    assert removed["content"].startswith("➖ Removed")
    assert "Hard Fork" not in [f.title for f in await world.api.list_feeds(f"discord:{CHANNEL_ID}")]


async def test_feeds_add_by_name_offers_a_menu_and_picking_follows_the_podcast(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    fake = world.fake
    offer = await answer(fake, await fake.slash("castfive", "feeds", "add",
                                                options={"url_or_name": "hard fork"}))
    menu = offer["components"][0]["components"][0]
    assert menu["type"] == 3 and menu["options"][0]["label"] == "Hard Fork — The New York Times"
    pick = await fake._interact(3, {"custom_id": menu["custom_id"], "component_type": 3,
                                    "values": [menu["options"][0]["value"]]},
                                ADMIN_ID, None, CHANNEL_ID, False, message=offer)
    update = await fake.callback(pick)
    assert update["type"] == 7 and update["data"]["content"].startswith("➕ Added **Hard Fork**")
    assert "Hard Fork" in [f.title for f in await world.api.list_feeds(f"discord:{CHANNEL_ID}")]


async def test_feeds_import_reads_the_attached_opml_and_reports_what_failed(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ix = await world.fake.slash("castfive", "feeds", "import", options={"file": FileRef("subs.opml", OPML)})
    report = (await answer(world.fake, ix))["content"]
    assert "Imported **1**" in report and "Broken" in report
    assert "Hard Fork" in [f.title for f in await world.api.list_feeds(f"discord:{CHANNEL_ID}")]


async def test_feeds_export_sends_an_opml_file_privately(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ix = await world.fake.slash("castfive", "feeds", "export")
    message = await answer(world.fake, ix)
    (request,) = [r for r in world.fake.calls("POST", f"/interactions/{ix.id}")]
    assert ephemeral(message) and message["attachments"][0]["filename"] == "castfive.opml"
    assert b"<opml" in request.files["castfive.opml"]
    assert b"example.org/0.xml" in request.files["castfive.opml"]


async def test_today_posts_each_insight_with_its_buttons_and_remembers_the_messages(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ix = await world.fake.slash("castfive", "today", user_id=MEMBER_ID)
    messages = await world.fake.reply_to(ix, 5)
    digest = await world.api.today(f"discord:{CHANNEL_ID}")
    assert [m["embeds"][0]["footer"]["text"].split("id ")[1].split(" ")[0] for m in messages] == \
        [i.insight.id for i in digest.items]
    first_button = messages[0]["components"][0]["components"][0]
    assert first_button["custom_id"] == f"castfive:ask:{digest.items[0].insight.id}"
    ref = await world.api.lookup_message(f"discord:{CHANNEL_ID}", messages[2]["id"])
    assert ref is not None and ref.insight_id == digest.items[2].insight.id
    assert all(world.fake.bodies[m["id"]]["allowed_mentions"] == {"parse": []} for m in messages)
    assert (await world.services.delivery.tick()).due == 0  # already delivered on request


async def test_an_empty_today_in_a_channel_that_follows_nothing_says_how_to_add_a_podcast(
        world: World) -> None:
    sub = await world.subscriber(CHANNEL_ID)
    await world.services.repos.subscribers.put(replace(sub, feed_ids=()))  # removed every show
    message = await answer(world.fake, await world.fake.slash("castfive", "today", user_id=MEMBER_ID))
    assert message["content"].startswith("No podcasts yet: add one with `/castfive feeds add`")


async def test_ask_autocompletes_recent_insight_ids(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    await world.fake.reply_to(await world.fake.slash("castfive", "today"), 5)
    ix = await world.fake.slash("castfive", "ask", options={"id": "i1", "question": ""}, focused="id",
                                user_id=MEMBER_ID)
    choices = (await world.fake.callback(ix))["data"]["choices"]
    assert choices and all(c["value"].startswith("i1") and len(c["name"]) <= 100 for c in choices)


async def test_ask_answers_publicly_citing_the_transcript(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    insight = world.insights[0]
    ix = await world.fake.slash("castfive", "ask",
                                options={"id": insight.id, "question": "Why deploy daily?"},
                                user_id=MEMBER_ID)
    message = await answer(world.fake, ix)
    assert not ephemeral(message) and "**[00:00]**" in message["content"]
    ref = await world.api.lookup_message(f"discord:{CHANNEL_ID}", message["id"])
    assert ref is not None and ref.conversation_id == f"discord-ask:{ix.id}"


async def test_ask_about_an_unknown_insight_is_answered_privately(world: World) -> None:
    ix = await world.fake.slash("castfive", "ask", options={"id": "zzzz", "question": "what?"},
                                user_id=MEMBER_ID)
    message = await answer(world.fake, ix)
    assert message["content"].startswith("No insight with id") and ephemeral(message)
