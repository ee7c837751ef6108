"""The local fakes as the end-to-end tests use them, with the times things happened.

- `TimedTelegram`: the fake Bot API, plus each delivered message's time and insight id;
  `send_delay_s` slows sendMessage so a kill lands mid-round.
- `timed_discord()`: the fake Discord, plus when each message was posted.
- `FeedServer`: serves feed files and media from folders, scriptable to fail (500, 429, slow).
- `scripted_model`: a well-behaved language model for the fake LLM server.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.fake_llm_server import Recorded, Scripted
from tests.fakes.telegram_api import FakeTelegramApi

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
