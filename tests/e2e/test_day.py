"""A day of Castfive, end to end: `python -m bot` against local feeds, LLM, Telegram and Discord.

Part 1: new episodes become transcripts and insights; chats and channels in zones on both sides
of UTC subscribe and each receives exactly one digest at its own local time; a reply question
gets an answer citing a timestamp; a chat that blocked the bot is deactivated after three
failures; a group that became a supergroup moves; SIGTERM stops the service cleanly.

Part 2, the same day with faults: feeds answering 500, 429 and too slowly; the LLM timing out and
returning malformed JSON; Telegram 429 (retry_after) and 403; Discord 403 and 404; and a SIGKILL
in the middle of the delivery round, then a restart. Nothing acknowledged is lost, nobody gets
two digests, every healthy subscriber gets one.

"A day passes" as a minute: every subscriber sets its time, in its own zone, to the next minute.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from core.ids import feed_id_for
from core.store.blobs import load_transcript
from tests.conftest import CORPUS
from tests.e2e.content import Item, build_feed, read_store, script_to_vtt
from tests.e2e.fakes import Delivered, Fault, FeedServer, TimedTelegram, scripted_model, timed_discord
from tests.e2e.process import free_port, wait_health, wait_until
from tests.fakes.fake_llm_server import FAKE_MODEL, Recorded, Scripted

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
STAMP = re.compile(r"\b\d{1,2}:\d{2}\b")

# Telegram chats and the zones they live in (east and west of UTC)
TOKYO, NEW_YORK, BERLIN, BLOCKED, PAUSED = 1001, 1002, 1003, 1009, 1010
GROUP, SUPERGROUP = -2001, -1002001
ZONES = {TOKYO: "Asia/Tokyo", NEW_YORK: "America/New_York", BERLIN: "Europe/Berlin",
         BLOCKED: "Europe/London", PAUSED: "UTC", GROUP: "America/Sao_Paulo"}
DISCORD_ZONES = ("Australia/Sydney", "America/Los_Angeles", "Asia/Kolkata")


@pytest_asyncio.fixture
async def discord():
    fake = timed_discord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


# --- helpers -------------------------------------------------------------------------------------


def next_minute(lead_s: float = 12.0) -> datetime:
    """The next whole minute at least `lead_s` away: the time everyone's digest is due."""
    now = datetime.now(UTC) + timedelta(seconds=lead_s)
    return now.replace(second=0, microsecond=0) + timedelta(minutes=1)


def local_hhmm(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")


async def telegram_says(telegram: TimedTelegram, chat: int, text: str, *, mark: int | None = None) -> dict:
    """Push `text` from chat `chat` and wait for the bot's answer there."""
    after = telegram.mark() if mark is None else mark
    telegram.push_message(chat, text)
    request = await telegram.wait_for("sendMessage", lambda p: int(p["chat_id"]) == chat, after=after,
                                      timeout=20)
    return request.params


async def start_telegram(telegram: TimedTelegram, chats: dict[int, str]) -> None:
    """/start in every chat (the group's user is an admin)."""
    telegram.set_member(GROUP, 42, "administrator")
    for chat in chats:
        welcome = await telegram_says(telegram, chat, "/start")
        assert "Welcome to Castfive" in welcome["text"]


async def time_telegram(telegram: TimedTelegram, due: datetime, chats: dict[int, str]) -> None:
    """/time HH:MM Zone in every chat: the local time of `due` in the chat's zone."""
    for chat, zone in chats.items():
        confirmed = await telegram_says(telegram, chat, f"/time {local_hhmm(due, zone)} {zone}")
        assert local_hhmm(due, zone) in confirmed["text"], confirmed["text"]


async def subscribe_discord(discord: Any, due: datetime, channels: dict[int, tuple[str, bool]]) -> None:
    """/castfive subscribe with time and zone: a server channel by its admin, or a DM by its user."""
    from tests.fakes.discord_payloads import MEMBER_ID, ChannelRef

    for channel, (zone, dm) in channels.items():
        options: dict[str, Any] = {"time": local_hhmm(due, zone), "zone": zone}
        if dm:
            ix = await discord.slash("castfive", "subscribe", options=options, user_id=MEMBER_ID,
                                     channel_id=channel, dm=True)
        else:
            options["channel"] = ChannelRef(channel)
            ix = await discord.slash("castfive", "subscribe", options=options)
        (reply,) = await discord.reply_to(ix)
        assert local_hhmm(due, zone) in reply["content"], reply["content"]


def demo_shows(folder: Path, server: FeedServer) -> list[str]:
    """Three one-episode shows from the demo scripts, each with a VTT transcript (no speech-to-text)."""
    urls = []
    for n, name in enumerate(("Ship Small", "Sleep and Focus", "Pricing"), start=1):
        show = folder / f"show{n}"
        show.mkdir(parents=True)
        (show / "ep.vtt").write_text(script_to_vtt(DEMO / "scripts" / f"episode-{n}.txt"), encoding="utf-8")
        shutil.copy(DEMO / "episode-3.mp3", show / "episode.mp3")
        server.mount(f"show{n}", show)
        item = Item(f"{name}-1", f"{name}, part one", "ep.vtt")
        build_feed(show, f"{server.base_url}/show{n}/", name, [item])
        urls.append(f"{server.base_url}/show{n}/feed.xml")
    return urls


def corpus_shows(folder: Path, server: FeedServer) -> list[str]:
    """Two shows built from ../shared/corpus transcripts (MIT); none when the corpus is absent."""
    if not CORPUS.is_dir():
        return []
    shows = {"buzzcast": ("Buzzcast", [("buzzcast_full-episode.srt", "application/srt")]),
             "podnews": ("Podnews", [("podnews-daily_2024-01-25_short-timestamps.vtt", "text/vtt"),
                                     ("podnews-weekly_2024-01-19_short-timestamps.vtt", "text/vtt")])}
    urls = []
    for prefix, (title, files) in shows.items():
        show = folder / prefix
        show.mkdir(parents=True)
        shutil.copy(DEMO / "episode-3.mp3", show / "episode.mp3")
        items = []
        for n, (name, mime) in enumerate(files):
            shutil.copy(CORPUS / "transcripts" / name, show / name)
            items.append(Item(f"{prefix}-{n}", f"{title} #{n + 1}", name, mime=mime))
        build_feed(show, f"{server.base_url}/{prefix}/", title, items)
        server.mount(prefix, show)
        urls.append(f"{server.base_url}/{prefix}/feed.xml")
    return urls


def assert_one_digest_each(deliveries: dict[str, list[Delivered]], due: datetime, *,
                           crashes: int = 0, late_s: float = 20.0) -> None:
    """Every subscriber got its five distinct insights, none before `due`, duplicates <= crashes."""
    for who, messages in deliveries.items():
        ids = [m.insight_id for m in messages]
        assert len(set(ids)) == 5, f"{who} got {len(set(ids))} distinct insights: {ids}"
        assert len(ids) - 5 <= crashes, f"{who} got duplicates: {ids}"
        first = min(m.at for m in messages)
        assert first >= due.timestamp() - 0.5, f"{who} got its digest {due.timestamp() - first:.1f}s early"
        assert first <= due.timestamp() + late_s, f"{who} got its digest {first - due.timestamp():.1f}s late"


def bot_config(servers: dict[str, Any], catalogue: list[str], **sections: dict[str, Any]) -> dict:
    """The service's config: fakes' URLs, fast ticks, /healthz."""
    config: dict[str, dict[str, Any]] = {
        "feeds": {"catalogue": catalogue, "poll_check_seconds": 1.0},
        "http": {"allow_private_addresses": True},
        "llm": {"model": FAKE_MODEL, "api_base": servers["llm"].api_base, "timeout_s": 10.0},
        "telegram": {"api_base_url": servers["telegram"].base_url},
        "discord": {"api_base_url": servers["discord"].api_base_url,
                    "gateway_url": servers["discord"].gateway_url},
        "delivery": {"tick_seconds": 1.0},
        "health": {"enabled": True, "port": free_port()},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


# --- part 1 -----------------------------------------------------------------------------------------


async def test_a_day_new_episodes_to_one_digest_each_at_local_time_questions_and_chat_changes(
        telegram, discord, fake_llm, feed_server, make_bot, tmp_path):
    from tests.fakes.discord_payloads import CHANNEL_ID, OTHER_CHANNEL_ID
    from tests.fakes.discord_payloads import TOKEN as DISCORD_TOKEN

    fake_llm.default = scripted_model
    feed_server.mount("demo", DEMO)
    catalogue = [f"{feed_server.base_url}/demo/feed.xml", *corpus_shows(tmp_path / "shows", feed_server)]
    expected_episodes = 3 + (3 if len(catalogue) > 1 else 0)
    servers = {"llm": fake_llm, "telegram": telegram, "discord": discord}
    config = bot_config(servers, catalogue)
    bot = make_bot(config, DISCORD_BOT_TOKEN=DISCORD_TOKEN, CASTFIVE_LLM_API_KEY="sk-e2e")
    data = tmp_path / "data"
    await bot.start()

    # new episodes -> transcripts (the publisher's, or speech-to-text for two demo ones) -> insights
    await wait_health(config["health"]["port"], lambda h: h["episodes"] == {"done": expected_episodes},
                      150, "every episode transcribed and its insights extracted", bot)

    await start_telegram(telegram, ZONES)
    due = next_minute()
    await time_telegram(telegram, due, ZONES)
    await telegram_says(telegram, PAUSED, "/pause")
    await subscribe_discord(discord, due, {CHANNEL_ID: (DISCORD_ZONES[0], False),
                                           OTHER_CHANNEL_ID: (DISCORD_ZONES[1], False)})
    mark = telegram.mark()
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=100,
                  when=lambda p: int(p["chat_id"]) == BLOCKED)
    telegram.fail("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                  parameters={"migrate_to_chat_id": SUPERGROUP}, times=100,
                  when=lambda p: int(p["chat_id"]) == GROUP)
    assert not telegram.digest_messages() and time.time() < due.timestamp()

    healthy_chats = (TOKYO, NEW_YORK, BERLIN, SUPERGROUP)

    def everyone_served() -> bool:
        return (all(len({m.insight_id for m in telegram.digest_messages(c)}) == 5 for c in healthy_chats)
                and all(len({m.insight_id for m in discord.digest_posts(c)}) == 5
                        for c in (CHANNEL_ID, OTHER_CHANNEL_ID)))

    await wait_until(everyone_served, due.timestamp() - time.time() + 40, "every digest", bot)

    # a reply to a digest message is a question about that insight
    first = telegram.digest_messages(TOKYO)[0]
    question = telegram.push_message(TOKYO, "Why does that hold, and what was the evidence?",
                                     reply_to=first.message_id)
    answer = await telegram.wait_for("sendMessage", lambda p: (p.get("reply_parameters") or {}).get(
        "message_id") == question["message_id"], timeout=20)
    assert STAMP.search(answer.params["text"]), answer.params["text"]
    assert any("follow-up question" in r.system for r in fake_llm.requests)

    await asyncio.sleep(3)  # three more ticks: still exactly one digest each
    deliveries = {f"telegram:{c}": telegram.digest_messages(c) for c in healthy_chats}
    deliveries |= {f"discord:{c}": discord.digest_posts(c) for c in (CHANNEL_ID, OTHER_CHANNEL_ID)}
    assert_one_digest_each(deliveries, due)
    assert not telegram.digest_messages(PAUSED) and not telegram.digest_messages(GROUP)
    blocked_tries = [r for r in telegram.requests[mark:] if r.method == "sendMessage"
                     and int(r.params["chat_id"]) == BLOCKED]
    assert len(blocked_tries) == 3  # then deactivated: no fourth try

    code, took = await bot.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0, f"exit {code} after {took:.1f}s"
    subscribers, ledger, repos, store = await read_store(data)
    episodes, insights = await repos.episodes.all(), await repos.insights.all()
    transcripts = [await load_transcript(store, e.id) for e in episodes]
    await store.close()
    assert all(t is not None and t.segments for t in transcripts)
    assert {i.episode_id for i in insights} == {e.id for e in episodes}  # insights from every episode
    by_id = {s.id: s for s in subscribers}
    assert not by_id[f"telegram:{BLOCKED}"].active
    assert by_id[f"telegram:{SUPERGROUP}"].active and f"telegram:{GROUP}" not in by_id
    assert by_id[f"telegram:{PAUSED}"].paused
    served = {e.subscriber_id for e in ledger if any(m.message_ids for m in e.messages)}
    assert served == set(deliveries)
    for sub_id in deliveries:  # the ledger's day is the subscriber's local day at `due`
        (entry,) = [e for e in ledger if e.subscriber_id == sub_id]
        zone = by_id[sub_id].timezone
        assert entry.local_date == due.astimezone(ZoneInfo(zone)).date().isoformat()


# --- part 2: the same day with faults -----------------------------------------------------------------


class FlakyModel:
    """The scripted model, but the first extraction times out and the second is malformed."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.extractions = 0

    def __call__(self, request: Recorded) -> Scripted:
        if "follow-up question" not in request.system:
            self.extractions += 1
            if self.extractions == 1:
                return Scripted(content=json.dumps({"insights": []}), delay_s=self.delay_s)
            if self.extractions == 2:
                return Scripted(content='{"insights": [{"insight": "cut off mid')
        return scripted_model(request)


async def test_a_day_with_faults_and_a_kill_mid_round_loses_nothing_and_doubles_nothing(
        telegram, discord, fake_llm, feed_server, make_bot, tmp_path):
    from tests.fakes.discord_payloads import CHANNEL_ID, DM_CHANNEL_ID, OTHER_CHANNEL_ID
    from tests.fakes.discord_payloads import TOKEN as DISCORD_TOKEN

    model = FlakyModel(delay_s=4.0)
    fake_llm.default = model
    catalogue = demo_shows(tmp_path / "shows", feed_server)
    broken = {"500": Fault(status=500, times=1),
              "429": Fault(status=429, times=1, headers={"Retry-After": "1"}),
              "slow": Fault(status=200, delay_s=4.0, times=1)}
    for n, fault in enumerate(broken.values(), start=1):  # each fails the first start only
        feed_server.fail(f"/show{n}/feed.xml", fault)
    servers = {"llm": fake_llm, "telegram": telegram, "discord": discord}
    config = bot_config(servers, catalogue, llm={"timeout_s": 2.0},
                        http={"read_timeout_s": 2.0, "total_timeout_s": 10.0},
                        pipeline={"retry_base_minutes": 0.02})
    bot = make_bot(config, DISCORD_BOT_TOKEN=DISCORD_TOKEN, CASTFIVE_LLM_API_KEY="sk-e2e")
    data = tmp_path / "data"
    await bot.start()
    await bot.wait_log("castfive running", timeout=60)
    log = bot.log_text()
    for url in catalogue:  # all three were refused at start, each in its own way, and named by id
        assert f"catalogue feed not added yet feed={feed_id_for(url)}" in log

    # the poll job or the second start adds them; the LLM's timeout and malformed reply only
    # delay the insights
    code, _ = await bot.stop(signal.SIGTERM)
    assert code == 0
    await bot.start()

    await wait_health(config["health"]["port"], lambda h: h["episodes"] == {"done": 3}, 90,
                      "three episodes with insights despite the LLM's faults", bot)
    assert model.extractions >= 4  # the timed-out and the malformed window were asked again

    chats = {TOKYO: ZONES[TOKYO], NEW_YORK: ZONES[NEW_YORK], BERLIN: ZONES[BERLIN], BLOCKED: ZONES[BLOCKED]}
    await start_telegram(telegram, chats)
    due = next_minute()
    await time_telegram(telegram, due, chats)
    channels = {CHANNEL_ID: (DISCORD_ZONES[0], False), OTHER_CHANNEL_ID: (DISCORD_ZONES[1], False),
                DM_CHANNEL_ID: (DISCORD_ZONES[2], True)}
    await subscribe_discord(discord, due, channels)
    telegram.send_delay_s = 0.4  # a slow platform: the round lasts seconds, the kill lands inside
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=100,
                  when=lambda p: int(p["chat_id"]) == BLOCKED)
    telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1},
                  when=lambda p: int(p["chat_id"]) == NEW_YORK)
    discord.fail_channel(OTHER_CHANNEL_ID, 403, 50001, times=100)  # Missing Access
    discord.fail_channel(DM_CHANNEL_ID, 404, 10003, times=100)  # Unknown Channel

    await wait_until(lambda: len(telegram.digest_messages()) >= 4, due.timestamp() - time.time() + 30,
                     "the round under way", bot)
    await bot.kill()
    delivered_at_kill = len(telegram.digest_messages())
    assert delivered_at_kill < 15, "the round finished before the kill: no test"
    await bot.start()

    healthy: dict[str, Callable[[], list[Delivered]]] = {
        f"telegram:{c}": (lambda c=c: telegram.digest_messages(c)) for c in (TOKYO, NEW_YORK, BERLIN)}
    healthy[f"discord:{CHANNEL_ID}"] = lambda: discord.digest_posts(CHANNEL_ID)
    await wait_until(lambda: all(len({m.insight_id for m in get()}) == 5 for get in healthy.values()),
                     60, "every healthy subscriber's five after the restart", bot)
    await asyncio.sleep(3)
    code, took = await bot.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0

    assert_one_digest_each({who: get() for who, get in healthy.items()}, due, crashes=1, late_s=60)
    to_new_york = [r for r in telegram.calls("sendMessage") if int(r.params["chat_id"]) == NEW_YORK]
    assert len(to_new_york) > len([d for d in telegram.delivered if d.chat_id == NEW_YORK])  # the 429
    subscribers, ledger, _, store = await read_store(data)
    await store.close()
    by_id = {s.id: s for s in subscribers}
    # acknowledged before the kill, still there after it: every subscription and its time
    for chat, zone in chats.items():
        sub = by_id[f"telegram:{chat}"]
        assert (sub.delivery_time, sub.timezone) == (local_hhmm(due, zone), zone)
    for channel, (zone, _) in channels.items():
        assert by_id[f"discord:{channel}"].delivery_time == local_hhmm(due, zone)
    # gone for good: the blocked chat, the channel we lost access to, the deleted DM
    gone = {f"telegram:{BLOCKED}", f"discord:{OTHER_CHANNEL_ID}", f"discord:{DM_CHANNEL_ID}"}
    assert {s.id for s in subscribers if not s.active} == gone
    # one ledger entry per subscriber and day; what it says was sent, the platform has
    assert len({(e.subscriber_id, e.local_date) for e in ledger}) == len(ledger)
    for entry in ledger:
        if entry.subscriber_id in healthy:
            got = {m.insight_id for m in healthy[entry.subscriber_id]()}
            assert {m.insight_id for m in entry.messages} == got and entry.finished
    assert feed_server.hits  # (the faults were served)
