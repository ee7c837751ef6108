"""The REST side of FakeDiscord: one function per endpoint discord.py calls, answering like Discord."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_payloads import (
    APP_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    application,
    bot_user,
    channel_of,
    thread_of,
    user_of,
)

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord, Interaction

LOADING = 128  # message flag of a deferred "is thinking..." response


@dataclass
class Failure:
    """A scripted error answer for posts to one channel."""

    status: int
    code: int
    message: str
    retry_after: float | None = None


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with the exact Content-Type discord.py checks for (no charset suffix)."""
    return web.Response(status=status, body=json.dumps(payload).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})


def error_response(failure: Failure) -> web.Response:
    """A scripted failure as Discord sends it; a 429 carries Via so discord.py retries it itself."""
    if failure.status == 429:
        wait = failure.retry_after or 0.05
        return json_response({"message": failure.message, "retry_after": wait, "global": False, "code": 0},
                             429, {"Via": "1.1 google", "Retry-After": str(wait)})
    return json_response({"message": failure.message, "code": failure.code}, failure.status)


def no_content() -> web.Response:
    """204."""
    return web.Response(status=204)


async def route(fake: FakeDiscord, method: str, parts: Sequence[str], body: Any,
                files: dict[str, bytes]) -> web.Response:
    """Answer one REST call; 404 with Discord's error shape for anything unknown."""
    match (method, *parts):
        case ("GET", "users", "@me"):
            return json_response(bot_user())
        case ("GET", "oauth2", "applications", "@me"):
            return json_response(application())
        case ("GET", "gateway") | ("GET", "gateway", "bot"):
            return json_response({"url": fake.gateway_url, "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})
        case ("PUT", "applications", _, "commands") | ("PUT", "applications", _, "guilds", _, "commands"):
            fake.commands = [{**c, "id": fake.snowflake(), "application_id": str(APP_ID), "version": "1"}
                             for c in body]
            return json_response(fake.commands)
        case ("GET", "applications", _, "commands"):
            return json_response(fake.commands)
        case ("POST", "channels", channel_id, "messages"):
            return _post_message(fake, channel_id, body, files)
        case ("POST", "channels", _, "typing"):
            return no_content()
        case ("POST", "channels", channel_id, "messages", message_id, "threads"):
            return await _start_thread(fake, channel_id, message_id, body)
        case ("GET", "channels", channel_id):
            return json_response(fake.threads.get(channel_id) or channel_of(int(channel_id)))
        case ("POST", "interactions", interaction_id, _, "callback"):
            return _callback(fake, fake.interactions[interaction_id], body, files)
        case ("POST", "webhooks", _, token):
            return _followup(fake, _by_token(fake, token), body, files)
        case (("GET" | "PATCH" | "DELETE") as verb, "webhooks", _, token, "messages", message_id):
            return _webhook_message(fake, _by_token(fake, token), verb, message_id, body, files)
    return json_response({"message": "404: Not Found", "code": 0}, 404)


def _by_token(fake: FakeDiscord, token: str) -> Interaction:
    return next(ix for ix in fake.interactions.values() if ix.token == token)


def make_message(fake: FakeDiscord, channel_id: str, body: dict[str, Any], files: dict[str, bytes],
                 flags: int = 0) -> dict[str, Any]:
    """A full message object as Discord returns it for what the bot sent."""
    message: dict[str, Any] = {
        "id": fake.snowflake(), "channel_id": channel_id, "author": bot_user(),
        "content": body.get("content") or "", "embeds": body.get("embeds") or [],
        "components": body.get("components") or [], "mentions": [], "mention_roles": [],
        "mention_everyone": False, "pinned": False, "tts": False, "type": 0, "flags": flags,
        "timestamp": "2026-11-28T09:00:00+00:00", "edited_timestamp": None,
        "attachments": [{"id": fake.snowflake(), "filename": name, "size": len(data),
                         "url": f"{fake.base}/attachments/{name}",
                         "proxy_url": f"{fake.base}/attachments/{name}"}
                        for name, data in files.items()],
    }
    if int(channel_id) != DM_CHANNEL_ID:
        message["guild_id"] = str(GUILD_ID)
    for name, data in files.items():
        fake.attachments[name] = data
    fake.bodies[message["id"]] = body
    return message


def _post_message(fake: FakeDiscord, channel_id: str, body: Any, files: dict[str, bytes]) -> web.Response:
    scripted = fake.failures.get(channel_id)
    if scripted:
        return error_response(scripted.pop(0))
    message = make_message(fake, channel_id, body or {}, files)
    if ref := (body or {}).get("message_reference"):
        message["message_reference"] = {k: str(v) if k.endswith("_id") and v is not None else v
                                         for k, v in ref.items()}  # Discord answers ids as strings
        message["type"] = 19
    fake.messages[message["id"]] = message
    return json_response(message)


async def _start_thread(fake: FakeDiscord, channel_id: str, message_id: str, body: Any) -> web.Response:
    if message_id in fake.threads:
        return json_response({"message": "A thread has already been created for this message",
                              "code": 160004}, 400)
    thread = thread_of(message_id, channel_id, body["name"])
    fake.threads[message_id] = thread
    await fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    return json_response(thread)


def _callback(fake: FakeDiscord, ix: Interaction, body: Any, files: dict[str, bytes]) -> web.Response:
    ix.callbacks.append(body)
    kind, data = body["type"], body.get("data") or {}
    channel_id = ix.payload["channel_id"]
    message = None
    if kind == 4:
        message = make_message(fake, channel_id, data, files, data.get("flags") or 0)
        ix.messages.append(message)
    elif kind == 5:
        ix.deferred_flags = data.get("flags") or 0
        message = make_message(fake, channel_id, {}, {}, ix.deferred_flags | LOADING)
    elif kind == 7 and "message" in ix.payload:
        message = {**ix.payload["message"], **{k: v for k, v in data.items() if k != "allowed_mentions"}}
        fake.messages[message["id"]] = message
    answer: dict[str, Any] = {"interaction": {
        "id": ix.id, "type": ix.payload["type"], "response_message_loading": kind == 5,
        "response_message_ephemeral": bool(((message or {}).get("flags") or 0) & 64)}}
    if message is not None:
        answer["interaction"]["response_message_id"] = message["id"]
        answer["resource"] = {"type": kind, "message": message}
    else:
        answer["resource"] = {"type": kind}
    return json_response(answer)


def _followup(fake: FakeDiscord, ix: Interaction, body: Any, files: dict[str, bytes]) -> web.Response:
    body = body or {}
    if ix.deferred_flags is not None and not ix.messages:
        flags = ix.deferred_flags  # the first followup replaces "thinking...": it keeps the defer's flags
    else:
        flags = body.get("flags") or 0
    message = make_message(fake, ix.payload["channel_id"], body, files, flags)
    message.update(webhook_id=str(APP_ID), application_id=str(APP_ID))
    ix.messages.append(message)
    return json_response(message)


def _webhook_message(fake: FakeDiscord, ix: Interaction, verb: str, message_id: str, body: Any,
                     files: dict[str, bytes]) -> web.Response:
    index = 0 if message_id == "@original" else next(
        (i for i, m in enumerate(ix.messages) if m["id"] == message_id), None)
    if index is None or (not ix.messages and verb != "PATCH"):
        return json_response({"message": "Unknown Message", "code": 10008}, 404)
    if verb == "DELETE":
        ix.messages.pop(index)
        return no_content()
    if verb == "PATCH":
        if not ix.messages:  # editing a deferred response: it becomes the original message
            ix.messages.append(make_message(fake, ix.payload["channel_id"], body or {}, files,
                                            ix.deferred_flags or 0))
        else:
            ix.messages[index] = {**ix.messages[index], **(body or {})}
            fake.bodies[ix.messages[index]["id"]] = body
    return json_response({**ix.messages[index], "author": user_of(APP_ID)})
