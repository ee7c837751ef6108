"""FakeTelegramApi: a small Bot API server on 127.0.0.1 (aiohttp) for driving a real PTB bot.

It serves queued updates to getUpdates, answers the methods Castfive uses with realistic JSON,
records every request (method + decoded params) and can be scripted to fail like Telegram does.
Use the `fake_telegram` fixture (tests/conftest.py registers this module as a plugin, so test
modules need not import it) and point the bot at `fake.base_url`
("<base_url>/bot<token>/<method>", files at "<base_url>/file/bot<token>/<path>").
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web

TOKEN = "123456:TEST-token_not-real"
BOT_ID = 123456
BOT_USERNAME = "castfive_test_bot"
ANONYMOUS_ADMIN_ID = 1087968824  # GroupAnonymousBot
SERVICE_ID = 777000  # Telegram service notifications

# Form fields PTB sends as plain strings: never JSON-decode these (a text "42" stays a string).
_TEXT_FIELDS = {"text", "caption", "callback_query_id", "file_id", "query", "description"}

_ADMIN_RIGHTS = dict.fromkeys((
    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
    "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
    "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
), False) | {"can_manage_chat": True}


@dataclass(frozen=True)
class Request:
    """One Bot API call as the fake received it."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (filename, data)


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int
    when: Callable[[dict[str, Any]], bool] | None


def _decode(name: str, value: str) -> Any:
    if name in _TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def user_json(user_id: int, first_name: str = "Ada", *, is_bot: bool = False) -> dict[str, Any]:
    """A Telegram User object."""
    return {"id": user_id, "is_bot": is_bot, "first_name": first_name, "username": f"u{user_id}"}


class FakeTelegramApi:
    """The fake server: push updates in, read requests out, script failures."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.members: dict[tuple[int, int], str] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._failures: list[_Failure] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.base_url = ""

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        self._closing = True
        self._wake()  # long polls return now: aiohttp's cleanup waits for open handlers
        if self._runner:
            await self._runner.cleanup()

    # --- scripting -----------------------------------------------------------------------

    def fail(self, method: str, status: int, description: str, *, times: int = 1,
             parameters: dict[str, Any] | None = None,
             when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Answer the next `times` calls of `method` (matching `when`) with a Bot API error."""
        self._failures.append(_Failure(method, status, description, parameters, times, when))

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """Script getChatMember: 'creator', 'administrator', 'member', 'left' or 'kicked'."""
        self.members[(chat_id, user_id)] = status

    def add_file(self, file_id: str, data: bytes, file_name: str = "subs.opml") -> dict[str, Any]:
        """Make a file downloadable; returns its Document JSON for a message."""
        self.files[file_id] = (f"documents/{file_id}_{file_name}", data)
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": file_name,
                "mime_type": "text/x-opml", "file_size": len(data)}

    def chat(self, chat_id: int, chat_type: str | None = None, title: str = "") -> dict[str, Any]:
        """The Chat JSON for `chat_id` (private if positive, supergroup if -100..., else group)."""
        if chat_id not in self.chats or chat_type:
            kind = chat_type or ("private" if chat_id > 0 else
                                 "supergroup" if str(chat_id).startswith("-100") else "group")
            chat: dict[str, Any] = {"id": chat_id, "type": kind}
            if kind == "private":
                chat["first_name"] = title or "Ada"
            else:
                chat["title"] = title or f"Chat {chat_id}"
            self.chats[chat_id] = chat
        return self.chats[chat_id]

    # --- pushing updates ---------------------------------------------------------------------

    def _push(self, **payload: Any) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        self._wake()
        return update_id

    def make_message(self, chat_id: int, text: str | None = None, *, user_id: int | None = 42,
                     reply_to: int | None = None, sender_chat_id: int | None = None,
                     document: dict[str, Any] | None = None, caption: str | None = None,
                     chat_type: str | None = None, **extra: Any) -> dict[str, Any]:
        """A Message JSON from a user (or a sender chat), stored so later replies can quote it."""
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": self.chat(chat_id, chat_type), **extra}
        if user_id is not None:
            msg["from"] = user_json(user_id, "Group" if user_id == ANONYMOUS_ADMIN_ID else "Ada",
                                    is_bot=user_id == ANONYMOUS_ADMIN_ID)
        if sender_chat_id is not None:
            msg["sender_chat"] = self.chat(sender_chat_id)
        for key, value in (("text", text), ("caption", caption)):
            if value is not None:
                msg[key] = value
                if value.startswith("/"):
                    command = value.split()[0]
                    msg[f"{'caption_' if key == 'caption' else ''}entities"] = [
                        {"type": "bot_command", "offset": 0, "length": len(command)}]
        if document is not None:
            msg["document"] = document
        if reply_to is not None:
            msg["reply_to_message"] = self.messages[(chat_id, reply_to)]
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    def push_message(self, chat_id: int, text: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Queue a `message` update (commands get their bot_command entity); returns the message."""
        msg = self.make_message(chat_id, text, **kwargs)
        self._push(message=msg)
        return msg

    def push_channel_post(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        """Queue a `channel_post` update, posted as the channel itself."""
        msg = self.make_message(chat_id, text, user_id=None, sender_chat_id=chat_id,
                                chat_type="channel", **kwargs)
        self._push(channel_post=msg)
        return msg

    def push_callback(self, chat_id: int, message_id: int, data: str, *,
                      user_id: int = 42) -> str:
        """Queue a `callback_query` (a button tap under message `message_id`); returns its id."""
        query_id = f"cq{next(self._update_ids)}"
        self._push(callback_query={"id": query_id, "from": user_json(user_id),
                                   "chat_instance": f"ci{chat_id}", "data": data,
                                   "message": self.messages[(chat_id, message_id)]})
        return query_id

    def push_my_chat_member(self, chat_id: int, old: str, new: str, *, user_id: int = 42,
                            chat_type: str | None = None) -> None:
        """Queue a `my_chat_member` update: the bot's status in the chat went `old` -> `new`."""
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": user_json(BOT_ID, is_bot=True)}
            if status == "kicked":
                data["until_date"] = 0
            if status == "administrator":
                data.update(_ADMIN_RIGHTS)
            return data
        self._push(my_chat_member={"chat": self.chat(chat_id, chat_type), "from": user_json(user_id),
                                   "date": int(time.time()), "old_chat_member": member(old),
                                   "new_chat_member": member(new)})

    # --- reading requests ----------------------------------------------------------------------

    def calls(self, method: str) -> list[Request]:
        """Every recorded request to `method`, in order."""
        return [r for r in self.requests if r.method == method]

    async def wait_for(self, method: str, where: Callable[[dict[str, Any]], bool] | None = None,
                       *, timeout: float = 5.0, after: int = 0) -> Request:
        """The first request to `method` (from index `after`) matching `where`; waits for it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for req in self.requests[after:]:
                if req.method == method and (where is None or where(req.params)):
                    return req
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [r.method for r in self.requests if r.method != "getUpdates"]
                raise AssertionError(f"no {method} request matched within {timeout}s; saw {seen}")
            await self._something_happens(remaining)

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, checking after every request or pushed update."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout}s")
            await self._something_happens(remaining)

    def mark(self) -> int:
        """The current request count: pass as `after=` to wait only for later requests."""
        return len(self.requests)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _something_happens(self, within: float) -> None:
        """Wait for the next request or pushed update (registered now, so none is missed)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, within)
        except TimeoutError:
            pass

    # --- serving ---------------------------------------------------------------------------------

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            return dict(await request.json()), files
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = (value.filename, value.file.read())
            else:
                params[name] = _decode(name, str(value))
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await self._read(request)
        if method != "getUpdates":
            self.requests.append(Request(method, params, files))
            self._wake()
        for failure in self._failures:
            if failure.method == method and failure.times > 0 and (
                    failure.when is None or failure.when(params)):
                failure.times -= 1
                body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                        "description": failure.description}
                if failure.parameters:
                    body["parameters"] = failure.parameters
                return web.json_response(body, status=failure.status)
        handler = getattr(self, f"_m_{method}", None)
        result = await handler(params) if handler else True
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                return web.Response(body=data)
        raise web.HTTPNotFound()

    async def _m_getMe(self, _: dict[str, Any]) -> dict[str, Any]:
        return {**user_json(BOT_ID, "Castfive", is_bot=True), "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 1.0)  # long-poll briefly: tests stay fast
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            pending = [u for u in self._updates if u["update_id"] >= offset]
            remaining = deadline - asyncio.get_running_loop().time()
            if pending or remaining <= 0 or self._closing:
                return pending
            await self._something_happens(remaining)

    def _sent(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        msg = {"message_id": next(self._message_ids), "date": int(time.time()),
               "chat": self.chat(chat_id), "from": {**user_json(BOT_ID, "Castfive", is_bot=True),
                                                     "username": BOT_USERNAME}, **content}
        if "inline_keyboard" in (params.get("reply_markup") or {}):  # only these come back
            msg["reply_markup"] = params["reply_markup"]
        reply = params.get("reply_parameters") or {}
        if reply.get("message_id") and (chat_id, reply["message_id"]) in self.messages:
            msg["reply_to_message"] = self.messages[(chat_id, reply["message_id"])]
        self.messages[(chat_id, msg["message_id"])] = msg
        return msg

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent(params, text=params["text"])

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        msg = self.messages[key]
        msg.update(text=params["text"], edit_date=int(time.time()))
        if "inline_keyboard" in (params.get("reply_markup") or {}):
            msg["reply_markup"] = params["reply_markup"]
        else:
            msg.pop("reply_markup", None)
        return msg

    async def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._sent(params, caption=params.get("caption", ""),
                          document={"file_id": "sent-doc", "file_unique_id": "usent"})

    async def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_path, data = self.files[params["file_id"]]
        return {"file_id": params["file_id"], "file_unique_id": f"u{params['file_id']}",
                "file_size": len(data), "file_path": file_path}

    async def _m_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.members.get((chat_id, user_id), "member")
        data: dict[str, Any] = {"status": status, "user": user_json(user_id)}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(_ADMIN_RIGHTS)
        elif status == "kicked":
            data["until_date"] = 0
        return data


@pytest_asyncio.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegramApi]:
    """A running FakeTelegramApi, closed after the test."""
    fake = FakeTelegramApi()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
