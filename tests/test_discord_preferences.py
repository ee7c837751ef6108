"""`/castfive time` with a cadence and `/castfive topics`: discord.py, FakeDiscord, the real service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.render_discord import NEED_MANAGE_SERVER
from core.models import Cadence
from tests.fakes.discord_payloads import CHANNEL_ID, EPHEMERAL, MEMBER_ID

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord, Interaction
    from tests.fakes.discord_world import World

SUB = f"discord:{CHANNEL_ID}"


async def answer(fake: FakeDiscord, ix: Interaction) -> dict:
    return (await fake.reply_to(ix))[0]


async def slash(world: World, *path: str, user_id: int | None = None, **options: str) -> dict:
    ix = await world.fake.slash("castfive", *path, options=options,
                                **({"user_id": user_id} if user_id else {}))
    return await answer(world.fake, ix)


def ephemeral(message: dict) -> bool:
    return bool(message["flags"] & EPHEMERAL)


async def test_time_offers_a_cadence_and_a_day_and_topics_its_three_commands(world: World) -> None:
    (group,) = world.fake.commands
    options = {o["name"]: o for o in group["options"]}
    time = {o["name"]: o for o in options["time"]["options"]}
    assert [c["value"] for c in time["cadence"]["choices"]] == ["daily", "weekdays", "weekly"]
    assert [c["name"] for c in time["day"]["choices"]][:2] == ["Monday", "Tuesday"]
    assert not any(o.get("required") for o in time.values())  # each part alone is a change
    assert {o["name"] for o in options["topics"]["options"]} == {"show", "set", "clear"}


async def test_subscribing_says_how_to_choose_weekdays_weekly_and_topics(world: World) -> None:
    content = (await slash(world, "subscribe"))["content"]
    assert "weekdays only or weekly on a day" in content and "/castfive topics set" in content


async def test_time_sets_weekdays_then_weekly_on_a_day_keeping_the_rest(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    ok = await slash(world, "time", time="07:30", zone="Europe/Berlin", cadence="weekdays")
    sub = await world.api.get_subscriber(SUB)
    assert (sub.delivery_time, sub.timezone, sub.cadence) == ("07:30", "Europe/Berlin", Cadence.WEEKDAYS)
    assert "arrive on weekdays at **07:30** (Europe/Berlin)" in ok["content"]
    ok = await slash(world, "time", day="fri")
    sub = await world.api.get_subscriber(SUB)
    assert (sub.cadence, sub.delivery_weekday, sub.delivery_time) == (Cadence.WEEKLY, 4, "07:30")
    assert "every Friday at **07:30**" in ok["content"]


async def test_a_day_with_a_weekdays_cadence_is_refused_privately_and_nothing_changes(world: World) -> None:
    before = await world.subscriber(CHANNEL_ID)
    bad = await slash(world, "time", cadence="weekdays", day="mon")
    assert "A day goes with a weekly digest" in bad["content"] and ephemeral(bad)
    assert await world.api.get_subscriber(SUB) == before


async def test_topics_are_set_shown_and_cleared(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    assert "No topics yet" in (await slash(world, "topics", "show"))["content"]
    set_reply = await slash(world, "topics", "set", words="ai, energy, startups")
    assert "**ai**, **energy**, **startups**" in set_reply["content"]
    assert (await world.api.get_subscriber(SUB)).topics == ("ai", "energy", "startups")
    assert "**energy**" in (await slash(world, "topics", "show", user_id=MEMBER_ID))["content"]
    assert "No topics yet" in (await slash(world, "topics", "clear"))["content"]
    assert (await world.api.get_subscriber(SUB)).topics == ()


async def test_members_without_manage_server_cannot_change_topics_or_time(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    await slash(world, "topics", "set", words="energy")
    before = await world.api.get_subscriber(SUB)
    for path, options in ((("topics", "set"), {"words": "sports"}), (("topics", "clear"), {}),
                          (("time",), {"cadence": "weekly"})):
        refused = await slash(world, *path, user_id=MEMBER_ID, **options)
        assert refused["content"] == NEED_MANAGE_SERVER and ephemeral(refused)
    assert await world.api.get_subscriber(SUB) == before


async def test_bad_topics_are_explained_privately(world: World) -> None:
    await world.subscriber(CHANNEL_ID)
    bad = await slash(world, "topics", "set", words="ai, <@everyone>")
    assert "words and numbers" in bad["content"] and ephemeral(bad)
    assert (await world.api.get_subscriber(SUB)).topics == ()
