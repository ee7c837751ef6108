"""Run `python -m bot` as a real subprocess against local fakes, and read what it did.

- `BotProcess`: start/stop/kill the service, its stderr kept in a file (the log secrecy test reads it).
- `write_config`: a TOML config in a tmp dir (data dir, fakes' URLs, fast ticks).
- `TimedTelegram`: the fake Bot API, plus when each digest message was delivered and to whom;
  `send_delay_s` slows sendMessage so a kill lands mid-round.
- `FeedServer`: serves feed files and media from folders, scriptable to fail (500, 429, slow).
- `seed_store`: subscribers and insights written into the data dir before the service starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from core.adapters.tinydb_store import TinyDBStore
from core.models import Subscriber
from core.repos import LedgerEntry, Repos
from tests.fakes.fake_llm_server import Recorded, Scripted
from tests.fakes.seed import seed
from tests.fakes.telegram_api import FakeTelegramApi

REPO = Path(__file__).resolve().parents[2]
TELEGRAM_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw7"  # shaped like a real one; fake


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(directory: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """castfive.toml in `directory` with a data dir beside it and the given sections."""
    merged: dict[str, dict[str, Any]] = {
        "data": {"dir": str(directory / "data")},
        "feeds": {"catalogue": [], "poll_check_seconds": 1.0},
        "delivery": {"tick_seconds": 1.0},
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    lines = []
    for name, values in merged.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path = directory / "castfive.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot_env(**extra: str) -> dict[str, str]:
    """The environment for the service: no stray tokens from the caller, offline libraries."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "CASTFIVE_CONFIG", "CASTFIVE_CRASH_AT")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(REPO))
    env.update(extra)
    return env


class BotProcess:
    """`python -m bot --config PATH` as a subprocess; stderr and stdout go to files."""

    def __init__(self, config: Path, env: Mapping[str, str], log_dir: Path) -> None:
        self.config = config
        self.env = dict(env)
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.extra_args: list[str] = []  # e.g. ["-v"]

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"bot-{self.runs}.stderr"

    async def start(self, *, config_via_env: bool = False) -> None:
        """Start (or restart) the service, naming the config by --config or $CASTFIVE_CONFIG."""
        self.runs += 1
        self._err = self.stderr_path.open("wb")
        self._out = (self.log_dir / f"bot-{self.runs}.stdout").open("wb")
        env, args = dict(self.env), ["--config", str(self.config)]
        if config_via_env:
            env["CASTFIVE_CONFIG"], args = str(self.config), []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, *self.extra_args,
            cwd=REPO, env=env, stdout=self._out, stderr=self._err,
        )

    def log_text(self, run: int | None = None) -> str:
        """What run `run` (default: the latest) wrote to stderr so far."""
        return (self.log_dir / f"bot-{run or self.runs}.stderr").read_text(errors="replace")

    def all_output(self) -> str:
        """Every run's stdout and stderr, joined."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("bot-*.std*")))

    async def wait_log(self, fragment: str, timeout: float = 30.0) -> None:
        """Wait until the latest run's stderr contains `fragment`; fail if it exits first."""
        deadline = time.monotonic() + timeout
        while fragment not in self.log_text():
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"service exited {self.proc.returncode} before {fragment!r}:\n"
                                     + self.log_text()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"no {fragment!r} in the log within {timeout}s:\n"
                                     + self.log_text()[-3000:])
            await asyncio.sleep(0.05)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig` and wait; returns (exit status, seconds it took)."""
        assert self.proc is not None
        began = time.monotonic()
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            tail = self.log_text()[-3000:]
            raise AssertionError(f"service did not stop within {timeout}s:\n{tail}") from None
        finally:
            self._close_files()
        return code, time.monotonic() - began

    async def kill(self) -> None:
        """SIGKILL: the crash."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        for handle in (self._err, self._out):
            handle.close()


async def wait_until(condition: Callable[[], bool], timeout: float, what: str,
                     bot: BotProcess | None = None) -> None:
    """Poll `condition` every 50 ms; fail naming `what` (with the log tail) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if bot is not None and bot.proc is not None and bot.proc.returncode is not None:
            raise AssertionError(f"service exited {bot.proc.returncode} while waiting for {what}:\n"
                                 + bot.log_text()[-3000:])
        if time.monotonic() > deadline:
            tail = bot.log_text()[-3000:] if bot else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")
        await asyncio.sleep(0.05)


# --- the fake Telegram, with delivery times --------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """One sendMessage the fake answered with success."""

    chat_id: int
    insight_id: str | None  # from the Ask button's callback data; None for other messages
    message_id: int
    at: float  # time.time()
    text: str


class TimedTelegram(FakeTelegramApi):
    """FakeTelegramApi that keeps every delivered message with its time and insight id."""

    def __init__(self, send_delay_s: float = 0.0) -> None:
        super().__init__()
        self.send_delay_s = send_delay_s
        self.delivered: list[Delivered] = []

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # As Telegram does: an offset confirms every earlier update, which is then gone for good.
        # (The base fake keeps them, so a restarted bot would replay the whole day's commands.)
        offset = int(params.get("offset") or 0)
        self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
        return await super()._m_getUpdates(params)

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.send_delay_s:
            await asyncio.sleep(self.send_delay_s)
        msg = await super()._m_sendMessage(params)
        keyboard = (params.get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
        data = str(keyboard[0][0].get("callback_data") or "")
        insight = data.partition(":")[2] if data.startswith("a:") else None
        self.delivered.append(Delivered(int(params["chat_id"]), insight, msg["message_id"], time.time(),
                                        params.get("text", "")))
        return msg

    def digest_messages(self, chat_id: int | None = None) -> list[Delivered]:
        """Delivered digest items (messages carrying an insight's buttons), optionally of one chat."""
        return [d for d in self.delivered if d.insight_id and (chat_id is None or d.chat_id == chat_id)]

    def per_chat(self) -> dict[int, Counter[str]]:
        """chat id -> how many times each insight was delivered there."""
        result: dict[int, Counter[str]] = {}
        for d in self.digest_messages():
            result.setdefault(d.chat_id, Counter())[d.insight_id or ""] += 1
        return result


# --- a feed server ---------------------------------------------------------------------------


@dataclass
class Fault:
    """How the feed server answers one path for a while."""

    status: int = 500
    delay_s: float = 0.0
    times: int = 1_000_000
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves files under URL prefixes from local folders; counts requests; scripted faults."""

    def __init__(self) -> None:
        self.roots: dict[str, Path] = {}
        self.faults: dict[str, Fault] = {}
        self.hits: Counter[str] = Counter()
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def mount(self, prefix: str, folder: Path) -> str:
        """Serve `folder` under /prefix/; returns that URL."""
        self.roots[prefix] = folder
        return f"{self.base_url}/{prefix}/"

    def fail(self, path: str, fault: Fault) -> None:
        """Answer `path` (e.g. '/bad/feed.xml') according to `fault`."""
        self.faults[path] = fault

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{prefix}/{name:.+}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        fault = self.faults.get(request.path)
        if fault is not None and fault.times > 0:
            fault.times -= 1
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status != 200:
                return web.Response(status=fault.status, text="scripted failure", headers=fault.headers)
        root = self.roots.get(request.match_info["prefix"])
        if root is None:
            raise web.HTTPNotFound()
        path = (root / request.match_info["name"]).resolve()
        if root.resolve() not in path.parents or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)


# --- seeding the store before start ------------------------------------------------------------


def due_now() -> tuple[str, str]:
    """(HH:MM, zone) whose time passed a minute ago today, away from local midnight."""
    now = datetime.now(UTC)
    zone, local = "UTC", now
    if (now.hour == 0 and now.minute < 10) or (now.hour == 23 and now.minute > 50):
        zone, local = "Etc/GMT-6", now + timedelta(hours=6)  # POSIX sign: GMT-6 is UTC+6
    return (local - timedelta(minutes=1)).strftime("%H:%M"), zone


async def seed_store(data_dir: Path, chat_ids: list[int], *, insights: bool = True,
                     paused: bool = False, feeds: int = 4, per_feed: int = 4) -> None:
    """Insights from `feeds` shows created now (unless not wanted), and one Telegram subscriber
    per chat, due a minute ago and created yesterday (so due today)."""
    store = TinyDBStore(data_dir)
    await store.start()
    try:
        repos = Repos(store)
        now = datetime.now(UTC)
        if insights:
            await seed(repos, feeds=feeds, per_feed=per_feed, created=now)
            for feed in await repos.feeds.all():  # their example.org URLs must never be polled
                await repos.feeds.put(replace(feed, next_poll_at=now + timedelta(days=3650),
                                              last_polled_at=now))
        hhmm, zone = due_now()
        for chat_id in chat_ids:
            await repos.subscribers.put(Subscriber(
                id=f"telegram:{chat_id}", platform="telegram", chat_id=str(chat_id),
                title=f"chat {chat_id}", delivery_time=hhmm, timezone=zone, paused=paused,
                created_at=now - timedelta(days=1)))
    finally:
        await store.close()


async def read_store(data_dir: Path) -> tuple[list[Subscriber], list[LedgerEntry], Repos, TinyDBStore]:
    """Open the data dir after the service stopped (the caller closes the store)."""
    store = TinyDBStore(data_dir)
    await store.start()
    repos = Repos(store)
    return await repos.subscribers.all(), await repos.ledger.all(), repos, store


# --- a well-behaved language model for the fake LLM server -----------------------------------

_LINE = re.compile(r"^\[(\d+:\d{2}(?::\d{2})?)\] (?:[^:\n]{1,40}: )?(.+)$", re.MULTILINE)
_STAMP = re.compile(r"\[(\d+:\d{2}(?::\d{2})?)\]")


def scripted_model(request: Recorded) -> Scripted:
    """Extraction: quote the window's longest lines verbatim. Answers: cite the first passage."""
    if "follow-up question" in request.system:
        passages = request.user.split("<<<PASSAGES-", 1)[-1]
        stamp = (_STAMP.findall(passages) or ["00:00"])[0]
        answer = f"The guest explains this at [{stamp}], with the reason given right there."
        return Scripted(json.dumps({"answer": answer, "covered": True}))
    lines = [(stamp, text.strip()) for stamp, text in _LINE.findall(request.user)]
    lines = [(stamp, text) for stamp, text in lines if 8 <= len(text.split()) <= 60]
    best = sorted(lines, key=lambda line: -len(line[1]))[:4]
    items = [{"insight": f"Worth knowing: {text[:300]}", "quote": text, "start": stamp, "kind": "claim",
              "novelty": 0.8, "specificity": 0.8, "evidence": 0.7} for stamp, text in best]
    return Scripted(json.dumps({"insights": items}), prompt_tokens=400, completion_tokens=120)


# --- feeds built at test time --------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One episode of a built feed: its transcript file (served beside the feed) and audio."""

    guid: str
    title: str
    transcript: str  # file name in the feed's folder
    mime: str = "text/vtt"
    audio: str = "episode.mp3"
    url_suffix: str = ""  # e.g. "?token=..." on the transcript and audio URLs


def build_feed(folder: Path, base_url: str, title: str, items: list[Item],
               published: datetime | None = None) -> Path:
    """feed.xml in `folder`, items published an hour apart before `published` (default now)."""
    published = published or datetime.now(UTC)
    entries = []
    for n, item in enumerate(items):
        when = format_datetime(published - timedelta(hours=n + 1))
        entries.append(f"""    <item>
      <title>{escape(item.title)}</title>
      <guid isPermaLink="false">{escape(item.guid)}</guid>
      <pubDate>{when}</pubDate>
      <enclosure url="{_attr(base_url + item.audio + item.url_suffix)}" length="1000" type="audio/mpeg"/>
      <podcast:transcript url="{_attr(base_url + item.transcript + item.url_suffix)}" type="{item.mime}"/>
    </item>""")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">
  <channel>
    <title>{escape(title)}</title>
    <link>https://example.org/</link>
    <description>{escape(title)}, built for an end-to-end test.</description>
{chr(10).join(entries)}
  </channel>
</rss>
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feed.xml"
    path.write_text(xml, encoding="utf-8")
    return path


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def script_to_vtt(script: Path, seconds_per_line: float = 9.0) -> str:
    """A WebVTT transcript of a demo script (examples/demo/scripts), one cue per spoken line."""
    names = {"HOST": "Host", "GUEST": "Guest"}
    cues, start = [], 0.0
    for line in script.read_text(encoding="utf-8").splitlines():
        speaker, sep, text = line.partition(": ")
        if not sep or speaker not in names:
            continue
        text = re.sub(r"\{([^|}]*)\|[^}]*\}", r"\1", text)  # {written|spoken}: keep the written form
        end = start + seconds_per_line
        cues.append(f"{_vtt_time(start)} --> {_vtt_time(end)}\n<v {names[speaker]}>{text}\n")
        start = end + 0.5
    return "WEBVTT\n\n" + "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int(seconds * 1000) % 1000:03d}"


# --- asking the running service how it is doing ------------------------------------------------


async def healthz(port: int) -> dict[str, Any] | None:
    """GET /healthz as JSON, or None while nothing answers."""
    import aiohttp

    try:
        url = f"http://127.0.0.1:{port}/healthz"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            return dict(await resp.json())
    except (aiohttp.ClientError, ValueError):
        return None


async def wait_health(port: int, check: Callable[[dict[str, Any]], bool], timeout: float, what: str,
                      bot: BotProcess) -> dict[str, Any]:
    """Poll /healthz every 0.2 s until `check(body)`; fail naming `what` with the log tail."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] | None = None
    while True:
        body = await healthz(port)
        if body is not None and check(body):
            return body
        if bot.proc is not None and bot.proc.returncode is not None:
            raise AssertionError(f"service exited {bot.proc.returncode} while waiting for {what}:\n"
                                 + bot.log_text()[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; /healthz said {body}\n"
                                 + bot.log_text()[-3000:])
        await asyncio.sleep(0.2)


# --- the fake Discord, with delivery times ---------------------------------------------------------


def timed_discord() -> Any:
    """A FakeDiscord that notes when each message was posted (imported late: optional here)."""
    from tests.fakes.discord_api import FakeDiscord

    class TimedDiscord(FakeDiscord):
        def __init__(self) -> None:
            super().__init__()
            self.posted_at: dict[str, float] = {}

        async def _rest(self, request: web.Request) -> web.Response:
            response = await super()._rest(request)
            now = time.time()
            for message_id in self.messages:
                self.posted_at.setdefault(message_id, now)
            return response

        def digest_posts(self, channel_id: int | str) -> list[Delivered]:
            """Insight posts (with the Ask button) in a channel, oldest first."""
            posts = []
            for message in self.channel_messages(channel_id):
                ids = [c.get("custom_id", "") for row in message.get("components") or []
                       for c in row.get("components") or []]
                ask = next((i for i in ids if i.startswith("castfive:ask:")), None)
                if ask:
                    at = self.posted_at.get(message["id"], 0.0)
                    posts.append(Delivered(int(channel_id), ask.rsplit(":", 1)[1], int(message["id"]), at,
                                           message.get("content", "")))
            return posts

    return TimedDiscord()
