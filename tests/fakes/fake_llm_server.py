"""A local OpenAI-compatible chat server (aiohttp) that replies from a script and records requests.

Use it through the `fake_llm` fixture (tests/conftest.py registers this module as a plugin):

    async def test_x(fake_llm):
        fake_llm.reply_json({"insights": []})
        client = LiteLLMClient(fake_llm.settings(), api_key="sk-test")

Model names look like "openai/fake-model" with api_base=http://127.0.0.1:PORT/v1, so real
litellm talks real HTTP to it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import web

from core.config import LLMSettings

FAKE_MODEL = "openai/fake-model"


@dataclass
class Scripted:
    """One scripted reply: a message content, an HTTP error, or a delay."""

    content: str | None = ""
    status: int = 200
    delay_s: float = 0.0
    raw_body: str | None = None  # sent verbatim instead of a chat completion
    prompt_tokens: int = 100
    completion_tokens: int = 50


@dataclass
class Recorded:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        """The chat messages of the request."""
        return list(self.body.get("messages", []))

    @property
    def system(self) -> str:
        """The system message text (empty when none)."""
        return "".join(m["content"] for m in self.messages if m.get("role") == "system")

    @property
    def user(self) -> str:
        """All user message text joined."""
        return "\n".join(m["content"] for m in self.messages if m.get("role") == "user")


@dataclass
class FakeLLMServer:
    """The scripted server; replies in order, then falls back to `default` (or a 500)."""

    queue: list[Scripted] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    default: Callable[[Recorded], Scripted] | None = None
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        """The base URL litellm should use."""
        return f"http://127.0.0.1:{self.port}/v1"

    def settings(self, **overrides: Any) -> LLMSettings:
        """LLMSettings pointing at this server with short timeouts."""
        base = LLMSettings(model=FAKE_MODEL, api_base=self.api_base, timeout_s=5.0)
        return replace(base, **overrides)

    # --- scripting --------------------------------------------------------------

    def reply(self, content: str | None, **kwargs: Any) -> None:
        """Queue a reply whose message content is `content` (None: a null content)."""
        self.queue.append(Scripted(content=content, **kwargs))

    def reply_json(self, payload: Any, **kwargs: Any) -> None:
        """Queue a reply whose content is `payload` as JSON."""
        self.reply(json.dumps(payload), **kwargs)

    def reply_malformed(self) -> None:
        """Queue a reply whose content is not JSON at all."""
        self.reply('{"insights": [ {"insight": "cut off mid', completion_tokens=20)

    def reply_status(self, status: int, message: str = "fake failure") -> None:
        """Queue an HTTP error reply (429, 500...)."""
        body = json.dumps({"error": {"message": message, "type": "fake", "code": status}})
        self.queue.append(Scripted(status=status, raw_body=body))

    def reply_slow(self, delay_s: float, content: str = "{}") -> None:
        """Queue a reply that only comes after `delay_s` seconds."""
        self.queue.append(Scripted(content=content, delay_s=delay_s))

    # --- server -------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        # A short shutdown timeout: slow scripted replies must not hold up teardown.
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        recorded = Recorded(request.path, dict(request.headers), body)
        self.requests.append(recorded)
        if self.queue:
            scripted = self.queue.pop(0)
        elif self.default is not None:
            scripted = self.default(recorded)
        else:
            scripted = Scripted(status=500, raw_body='{"error": {"message": "script exhausted"}}')
        if scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        if scripted.raw_body is not None:
            return web.Response(
                status=scripted.status, text=scripted.raw_body, content_type="application/json"
            )
        return web.json_response(
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": str(body.get("model", "fake-model")),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": scripted.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": scripted.prompt_tokens,
                    "completion_tokens": scripted.completion_tokens,
                    "total_tokens": scripted.prompt_tokens + scripted.completion_tokens,
                },
            },
            status=scripted.status,
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        self.requests.append(Recorded(request.path, dict(request.headers), {}))
        return web.json_response({"error": {"message": "unknown path"}}, status=404)


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLMServer]:
    """A started FakeLLMServer on 127.0.0.1, closed after the test."""
    server = FakeLLMServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
