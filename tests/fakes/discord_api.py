"""FakeDiscord: Discord's REST API and gateway on 127.0.0.1, for driving a real discord.py client.

What it serves: login (users/@me, oauth2/applications/@me), command sync, a gateway that says
HELLO, takes IDENTIFY and answers READY plus GUILD_CREATE for one test server, channel messages,
threads, typing, interaction callbacks (with `with_response`), webhook followups and @original.
Tests inject gateway events (slash commands, autocomplete, button clicks, modal submits, member
messages, guild and channel removal) and read what the bot sent from `requests` and `messages`.

Facts discord.py relies on, kept here: JSON responses carry `Content-Type: application/json`
exactly (with a charset suffix the body is treated as text); gateway text frames are plain JSON,
so the `compress=zlib-stream` query is ignored; a 429 needs a `Via` header, or discord.py takes it
for a Cloudflare ban instead of retrying.

tests/conftest.py registers this module as a plugin, so every test can ask for `fake_discord`:

    async def test_x(fake_discord):
        adapter = DiscordAdapter(api, TOKEN, api_base_url=fake_discord.api_base_url,
                                 gateway_url=fake_discord.gateway_url, guild_ready_timeout=0.05)
        await adapter.start()
        ix = await fake_discord.slash("castfive", "today", user_id=MEMBER_ID)
        first = (await fake_discord.reply_to(ix))[0]

The server's ids (GUILD_ID, CHANNEL_ID, ADMIN_ID, MEMBER_ID, DM_CHANNEL_ID...) and TOKEN live in
tests/fakes/discord_payloads.py; tests/fakes/discord_world.py adds the real service around it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import WSMsgType, web

from tests.fakes.discord_payloads import (
    ADMIN_ID,
    APP_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    MEMBER_ID,
    MEMBER_PERMISSIONS,
    MESSAGE_CONTENT,
    TOKEN,
    bot_user,
    channel_of,
    command_options,
    guild_create,
    member_of,
    user_of,
)
from tests.fakes.discord_routes import Failure, json_response, route


@dataclass
class Request:
    """One REST call the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any  # parsed JSON (payload_json for multipart), or None
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Interaction:
    """An interaction the test injected, and what the bot answered to it."""

    id: str
    token: str
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # original first, then followups
    deferred_flags: int | None = None  # set by a type-5 callback: the next followup replaces it


class FakeDiscord:
    """The fake; `start()` binds a free port, `close()` stops it."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.messages: dict[str, dict[str, Any]] = {}  # messages the bot posted in channels, by id
        self.bodies: dict[str, Any] = {}  # the request body behind each message the bot made, by id
        self.interactions: dict[str, Interaction] = {}
        self.commands: list[dict[str, Any]] = []
        self.attachments: dict[str, bytes] = {}
        self.failures: dict[str, list[Failure]] = {}
        self.identified = 0
        self.intents: list[int] = []  # the intents of each IDENTIFY
        self.privileged_allowed = True  # False: IDENTIFY asking for message content is closed with 4014
        self.threads: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 at a free port."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        """Drop every gateway connection and stop serving."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base_url(self) -> str:
        """What DiscordAdapter's `api_base_url` should be."""
        return f"{self.base}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What DiscordAdapter's `gateway_url` should be."""
        return self.base.replace("http://", "ws://") + "/gateway"

    def snowflake(self) -> str:
        """A fresh id."""
        return str(next(self._ids))

    # --- scripting failures ----------------------------------------------------------------------

    def fail_channel(self, channel_id: int | str, status: int, code: int = 0, *, times: int = 1,
                     retry_after: float | None = None) -> None:
        """The next `times` posts to the channel get this error (403 50013, 404 10003, 429...)."""
        text = {50001: "Missing Access", 50013: "Missing Permissions", 10003: "Unknown Channel",
                50007: "Cannot send messages to this user"}.get(code, "You are being rate limited."
                                                                 if status == 429 else "Server error")
        self.failures.setdefault(str(channel_id), []).extend(
            Failure(status, code, text, retry_after) for _ in range(times))

    # --- injecting events --------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH event to every connected client."""
        self._seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_str(frame)

    async def slash(self, *path: str, options: dict[str, Any] | None = None, user_id: int = ADMIN_ID,
                    permissions: int | None = None, channel_id: int = CHANNEL_ID, dm: bool = False,
                    focused: str | None = None) -> Interaction:
        """A slash command (or autocomplete when `focused` names the option being typed)."""
        opts, resolved = command_options(path[1:], options or {}, focused=focused,
                                         attachment_url=f"{self.base}/attachments")
        for attachment in resolved.get("attachments", {}).values():
            self.attachments[attachment["filename"]] = attachment.pop("_data")
        data = {"id": self.snowflake(), "name": path[0], "type": 1, "options": opts, "resolved": resolved}
        return await self._interact(4 if focused else 2, data, user_id, permissions, channel_id, dm)

    async def click(self, message: dict[str, Any], custom_id: str, *, user_id: int = MEMBER_ID,
                    permissions: int | None = None) -> Interaction:
        """A member presses the button `custom_id` on a message the bot sent."""
        channel_id = int(message["channel_id"])
        dm = "guild_id" not in message
        return await self._interact(3, {"custom_id": custom_id, "component_type": 2}, user_id,
                                    permissions, channel_id, dm, message=message)

    async def submit_modal(
        self, opened_by: Interaction, *values: str, user_id: int = MEMBER_ID
    ) -> Interaction:
        """Fill the modal the bot opened in answer to `opened_by`, one value per text input, and submit."""
        modal = next(c["data"] for c in opened_by.callbacks if c["type"] == 9)
        answers = iter(values)

        def filled(component: dict[str, Any]) -> dict[str, Any]:
            if component["type"] == 18:
                return {"type": 18, "component": filled(component["component"])}
            if component["type"] == 1:
                return {"type": 1, "components": [filled(c) for c in component["components"]]}
            return {"type": component["type"], "custom_id": component["custom_id"], "value": next(answers)}

        data = {"custom_id": modal["custom_id"], "components": [filled(c) for c in modal["components"]]}
        payload = opened_by.payload
        return await self._interact(5, data, user_id, None, int(payload["channel_id"]),
                                    "guild_id" not in payload, message=payload.get("message"))

    async def post_message(self, channel_id: int | str, content: str, *, author_id: int = MEMBER_ID,
                           reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """A member writes in a channel, thread or DM (MESSAGE_CREATE)."""
        in_dm = int(channel_id) == DM_CHANNEL_ID
        message = {
            "id": self.snowflake(), "channel_id": str(channel_id), "author": user_of(author_id),
            "content": content, "embeds": [], "components": [], "attachments": [], "mentions": [],
            "mention_roles": [], "mention_everyone": False, "pinned": False, "tts": False, "type": 0,
            "timestamp": "2026-11-28T09:00:00+00:00", "edited_timestamp": None, "flags": 0,
        }
        if not in_dm:
            message["guild_id"] = str(GUILD_ID)
            message["member"] = {k: v for k, v in member_of(author_id).items() if k != "user"}
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {"message_id": reply_to["id"],
                                            "channel_id": reply_to["channel_id"]}
            message["referenced_message"] = reply_to
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def remove_guild(self) -> None:
        """The bot is kicked from the test server."""
        await self.dispatch("GUILD_DELETE", {"id": str(GUILD_ID), "unavailable": False})

    async def delete_channel(self, channel_id: int) -> None:
        """A channel of the test server is deleted."""
        await self.dispatch("CHANNEL_DELETE", channel_of(channel_id))

    async def _interact(self, kind: int, data: dict[str, Any], user_id: int, permissions: int | None,
                        channel_id: int, dm: bool, message: dict[str, Any] | None = None) -> Interaction:
        ix = Interaction(id=self.snowflake(), token=f"itoken-{self.snowflake()}", payload={})
        perms = permissions if permissions is not None else (
            MEMBER_PERMISSIONS | MANAGE_GUILD if user_id == ADMIN_ID else MEMBER_PERMISSIONS)
        payload: dict[str, Any] = {
            "id": ix.id, "application_id": str(APP_ID), "type": kind, "data": data, "token": ix.token,
            "version": 1, "channel_id": str(channel_id), "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str((1 << 41) - 1), "authorizing_integration_owners": {"0": str(GUILD_ID)},
        }
        if dm:
            payload.update(user=user_of(user_id), context=1,
                           channel={"id": str(channel_id), "type": 1, "recipients": [user_of(user_id)]})
        else:
            member = member_of(user_id)
            member["permissions"] = str(perms)
            payload.update(guild_id=str(GUILD_ID), member=member, guild_locale="en-US", context=0,
                           channel=self.threads.get(str(channel_id)) or channel_of(channel_id))
        if message is not None:
            payload["message"] = message
        ix.payload = payload
        self.interactions[ix.id] = ix
        await self.dispatch("INTERACTION_CREATE", payload)
        return ix

    # --- waiting for the bot ---------------------------------------------------------------------------

    async def wait_until(self, check: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Poll `check` until it returns something truthy; AssertionError after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := check()):
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}")
            await asyncio.sleep(0.01)
        return result

    async def reply_to(self, ix: Interaction, count: int = 1) -> list[dict[str, Any]]:
        """The first `count` messages answering an interaction (original, then followups)."""
        return (await self.wait_until(lambda: len(ix.messages) >= count and ix.messages,
                                      what=f"{count} message(s) answering interaction {ix.id}"))[:count]

    async def callback(self, ix: Interaction) -> dict[str, Any]:
        """The interaction's first callback (its type and data)."""
        return (await self.wait_until(lambda: ix.callbacks, what=f"a callback to {ix.id}"))[0]

    def channel_messages(self, channel_id: int | str) -> list[dict[str, Any]]:
        """Messages the bot posted to a channel or thread, oldest first."""
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def calls(self, method: str, prefix: str) -> list[Request]:
        """REST calls whose path starts with `prefix`."""
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # --- gateway ---------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                frame = json.loads(msg.data)
                if frame["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif frame["op"] == 2:
                    self.intents.append(frame["d"].get("intents", 0))
                    if not self.privileged_allowed and self.intents[-1] & MESSAGE_CONTENT:
                        await ws.close(code=4014, message=b"Disallowed intent(s).")
                        break
                    await self._ready(ws)
                elif frame["op"] == 6:  # a resume: answered with a fresh session
                    await self._ready(ws)
        finally:
            self._sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        self.identified += 1
        self._seq += 1
        ready = {"v": 10, "user": bot_user(), "session_id": f"session-{self.identified}",
                 "resume_gateway_url": self.gateway_url,
                 "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
                 "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": []}
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self._seq += 1
        guild = guild_create(list(self.threads.values()))
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": guild}))

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.attachments.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    # --- REST ---------------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        self.requests.append(Request(request.method, path, dict(request.query), body, files))
        bot_route = not path.startswith(("/interactions/", "/webhooks/"))  # those use the interaction token
        if bot_route and request.headers.get("Authorization") != f"Bot {TOKEN}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return await route(self, request.method, path.split("/")[1:], body, files)


async def _read_body(request: web.Request) -> tuple[Any, dict[str, bytes]]:
    """JSON body, or multipart with payload_json and files[n]."""
    if request.content_type.startswith("multipart/"):
        body: Any = None
        files: dict[str, bytes] = {}
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                body = json.loads(data)
            else:
                files[part.filename or part.name or ""] = bytes(data)  # type: ignore[union-attr]
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), {}


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord, stopped after the test."""
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
