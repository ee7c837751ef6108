"""The shared Telegram and Discord fakes with the platforms' flood limits enforced, for bench/deliver.py.

Telegram: at most 30 messages in any sliding second overall and 20 in any sliding minute per
group (negative chat id); past either the Bot API's 429 with `parameters.retry_after`.
Discord: at most 50 requests in any sliding second (global 429, `"global": true`) and 5 posts per
channel per 5 s bucket; every post carries the X-RateLimit-* headers discord.py keeps its
per-channel bucket from, and a 429 carries `Via` (else discord.py takes it for a Cloudflare ban).

Run as a script it serves both fakes in their own process (so the bot's CPU and memory are its
own), prints one JSON line with their addresses and tokens, then answers `report` on stdin with
one JSON line of what each platform accepted, and exits on `quit` or end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from tests.fakes import discord_payloads
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_routes import json_response
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi

Clock = Callable[[], float]
MESSAGE_BUCKET = "f1a5e0c4d1e2b3a4"  # X-RateLimit-Bucket of POST /channels/{id}/messages
_TELEGRAM_SENDS = {"copyMessage", "forwardMessage"}  # besides every send* method


@dataclass(frozen=True)
class Limits:
    """The platforms' published limits (the defaults) or smaller ones for tests."""

    telegram_per_second: int = 30
    telegram_group_per_minute: int = 20
    discord_global_per_second: int = 50
    discord_channel_messages: int = 5
    discord_channel_seconds: float = 5.0


class SlidingWindow:
    """At most `limit` admissions in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more fits (0: it fits now); records nothing."""
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[-self.limit] + self.window - now

    def record(self, now: float) -> None:
        """Count one admission at `now`."""
        self._times.append(now)


class ChannelBucket:
    """Discord's per-route bucket: `limit` uses per `period` seconds from the first use."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.resets_at = 0.0
        self.remaining = limit

    def take(self, now: float) -> bool:
        """Use one if any is left in the current period."""
        if now >= self.resets_at:
            self.resets_at, self.remaining = now + self.period, self.limit
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def headers(self, now: float) -> dict[str, str]:
        """The X-RateLimit-* headers Discord sends with every answer on the route."""
        reset_after = max(0.0, self.resets_at - now)
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}", "X-RateLimit-Bucket": MESSAGE_BUCKET}


@dataclass(frozen=True)
class Accepted:
    """One message the platform took: where, which insight, its id, when (monotonic)."""

    chat: str
    insight: str
    message_id: str
    at: float


class LimitedTelegramApi(FakeTelegramApi):
    """FakeTelegramApi answering 429 past 30 messages/s overall or 20/min in one group."""

    def __init__(self, limits: Limits | None = None, *, keep_history: bool = False,
                 clock: Clock = time.monotonic) -> None:
        super().__init__()
        limits = limits or Limits()
        self.limits = limits
        self.keep_history = keep_history  # False: forget each request once answered (50,000 sends)
        self.clock = clock
        self.overall = SlidingWindow(limits.telegram_per_second, 1.0)
        self.groups: dict[int, SlidingWindow] = {}
        self.accepted: list[Accepted] = []
        self.refused: Counter[str] = Counter()  # "overall" / "group" -> 429s answered
        self.refused_at: list[float] = []

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if not (method.startswith("send") or method in _TELEGRAM_SENDS) or method == "sendChatAction":
            return await super()._handle(request)
        params, _ = await self._read(request)  # aiohttp caches the body: the base class reads it again
        now = self.clock()
        chat_id = int(params.get("chat_id") or 0)
        group = self.groups.setdefault(chat_id, SlidingWindow(self.limits.telegram_group_per_minute, 60.0)) \
            if chat_id < 0 else None
        waits = {"overall": self.overall.wait(now), "group": group.wait(now) if group else 0.0}
        kind = max(waits, key=lambda k: waits[k])
        if waits[kind] > 0:
            self.refused[kind] += 1
            self.refused_at.append(now)
            retry_after = max(1, math.ceil(waits[kind]))
            return web.json_response({"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {retry_after}",
                                      "parameters": {"retry_after": retry_after}}, status=429)
        self.overall.record(now)
        if group is not None:
            group.record(now)
        response = await super()._handle(request)
        if method == "sendMessage" and response.status == 200:
            self._note(params, json.loads(response.body)["result"], now)  # type: ignore[arg-type]
        if not self.keep_history:
            self.requests.clear()
            self.messages.clear()
        return response

    def _note(self, params: dict[str, Any], sent: dict[str, Any], at: float) -> None:
        rows = (params.get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
        data = rows[0][0].get("callback_data", "")
        insight = data[2:] if data.startswith("a:") else ""
        self.accepted.append(Accepted(str(params["chat_id"]), insight, str(sent["message_id"]), at))


class LimitedDiscord(FakeDiscord):
    """FakeDiscord answering 429 past 50 requests/s (global) or 5 posts per 5 s in one channel."""

    def __init__(self, limits: Limits | None = None, *, keep_history: bool = False,
                 clock: Clock = time.monotonic) -> None:
        super().__init__()
        limits = limits or Limits()
        self.limits = limits
        self.keep_history = keep_history
        self.clock = clock
        self.global_window = SlidingWindow(limits.discord_global_per_second, 1.0)
        self.channels: dict[str, ChannelBucket] = {}
        self.accepted: list[Accepted] = []
        self.refused: Counter[str] = Counter()  # "global" / "channel" -> 429s answered
        self.refused_at: list[float] = []

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        if path.startswith(("/interactions/", "/webhooks/")):  # not under the bot's global limit
            return await super()._rest(request)
        now = self.clock()
        wait = self.global_window.wait(now)
        if wait > 0:
            self.refused["global"] += 1
            self.refused_at.append(now)
            return _too_many(wait, is_global=True)
        parts = path.split("/")
        post = request.method == "POST" and len(parts) == 4 and parts[1::2] == ["channels", "messages"]
        bucket = None
        if post:
            bucket = self.channels.setdefault(parts[2], ChannelBucket(
                self.limits.discord_channel_messages, self.limits.discord_channel_seconds))
            if not bucket.take(now):
                self.refused["channel"] += 1
                self.refused_at.append(now)
                return _too_many(bucket.resets_at - now, is_global=False, headers=bucket.headers(now))
        self.global_window.record(now)
        response = await super()._rest(request)
        if bucket is not None:
            response.headers.update(bucket.headers(now))
            if response.status == 200:
                self._note(json.loads(response.body), now)  # type: ignore[arg-type]
        if not self.keep_history:
            self.requests.clear()
            self.messages.clear()
            self.bodies.clear()
        return response

    def _note(self, message: dict[str, Any], at: float) -> None:
        custom_ids = [c.get("custom_id", "") for row in message.get("components") or []
                      for c in row.get("components") or []]
        ask = next((c for c in custom_ids if c.startswith("castfive:ask:")), "")
        self.accepted.append(Accepted(message["channel_id"], ask.removeprefix("castfive:ask:"),
                                      message["id"], at))


def _too_many(wait: float, *, is_global: bool, headers: dict[str, str] | None = None) -> web.Response:
    """Discord's 429: JSON body, Retry-After, scope headers and Via."""
    retry_after = round(max(wait, 0.001), 3)
    extra = {"Via": "1.1 google", "Retry-After": str(math.ceil(retry_after)),
             "X-RateLimit-Scope": "global" if is_global else "user", **(headers or {})}
    if is_global:
        extra["X-RateLimit-Global"] = "true"
    return json_response({"message": "You are being rate limited.", "retry_after": retry_after,
                          "global": is_global, "code": 0}, 429, extra)


def report_of(telegram: LimitedTelegramApi, discord: LimitedDiscord) -> dict[str, Any]:
    """What each platform accepted and refused, as JSON-ready data."""
    return {name: {"accepted": [[a.chat, a.insight, a.message_id, a.at] for a in fake.accepted],
                   "refused": dict(fake.refused), "refused_at": fake.refused_at}
            for name, fake in (("telegram", telegram), ("discord", discord))}


async def serve(limits: Limits) -> None:
    """Serve both fakes until `quit` or end of input; `report` prints what they accepted."""
    telegram, discord = LimitedTelegramApi(limits), LimitedDiscord(limits)
    await telegram.start()
    await discord.start()
    hello = {"telegram_url": telegram.base_url, "telegram_token": TELEGRAM_TOKEN,
             "discord_api": discord.api_base_url, "discord_gateway": discord.gateway_url,
             "discord_token": discord_payloads.TOKEN}
    print(json.dumps(hello), flush=True)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := (await reader.readline()).decode().strip():
            if line == "report":
                print(json.dumps(report_of(telegram, discord)), flush=True)
            elif line == "quit":
                break
    finally:
        await discord.close()
        await telegram.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", default="{}", help="JSON of Limits fields to override")
    args = parser.parse_args()
    asyncio.run(serve(Limits(**json.loads(args.limits))))


if __name__ == "__main__":
    main()
