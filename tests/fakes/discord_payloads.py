"""Discord API payloads for the fake: one test server, its channels, roles and members, and options.

Ids are fixed so tests can name them: the server GUILD_ID has #podcasts (CHANNEL_ID), #general
(OTHER_CHANNEL_ID) and #announcements (MUTED_CHANNEL_ID, where the bot may not post); ADMIN_ID
holds Manage Server, MEMBER_ID does not; DM_CHANNEL_ID is MEMBER_ID's direct-message channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TOKEN = "fake-discord-token.Xy.zZ"  # never a real token
APP_ID = BOT_ID = 1_100_000_000_000_000_001
GUILD_ID = 1_100_000_000_000_000_100
CHANNEL_ID = 1_100_000_000_000_000_200
OTHER_CHANNEL_ID = 1_100_000_000_000_000_201
MUTED_CHANNEL_ID = 1_100_000_000_000_000_202
ADMIN_ID = 1_100_000_000_000_000_300
MEMBER_ID = 1_100_000_000_000_000_301
DM_CHANNEL_ID = 1_100_000_000_000_000_400
ADMIN_ROLE = 1_100_000_000_000_000_500
BOT_ROLE = 1_100_000_000_000_000_501

EPHEMERAL = 64
MESSAGE_CONTENT = 1 << 15  # the privileged gateway intent
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
MEMBER_PERMISSIONS = (1 << 10) | SEND_MESSAGES | (1 << 14) | (1 << 16)  # view, send, embed, history
BOT_PERMISSIONS = MEMBER_PERMISSIONS | (1 << 15) | (1 << 35) | (1 << 38)  # + files, threads, send in threads

_NAMES = {BOT_ID: "Castfive", ADMIN_ID: "ada", MEMBER_ID: "grace"}
_CHANNELS = {CHANNEL_ID: "podcasts", OTHER_CHANNEL_ID: "general", MUTED_CHANNEL_ID: "announcements"}
_ROLES = {BOT_ID: [BOT_ROLE], ADMIN_ID: [ADMIN_ROLE], MEMBER_ID: []}


@dataclass(frozen=True)
class ChannelRef:
    """A channel option value."""

    id: int


@dataclass(frozen=True)
class FileRef:
    """An attachment option value: the file a member uploads with the command."""

    filename: str
    data: bytes
    content_type: str = "text/x-opml"


def user_of(user_id: int) -> dict[str, Any]:
    """A user object."""
    return {"id": str(user_id), "username": _NAMES.get(user_id, f"user{user_id}"), "discriminator": "0",
            "global_name": None, "avatar": None, "bot": user_id == BOT_ID, "public_flags": 0, "flags": 0}


def bot_user() -> dict[str, Any]:
    """The bot's own user (GET /users/@me and READY)."""
    return user_of(BOT_ID)


def application() -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    return {"id": str(APP_ID), "name": "Castfive", "description": "", "icon": None, "rpc_origins": [],
            "bot_public": True, "bot_require_code_grant": False, "owner": user_of(ADMIN_ID), "summary": "",
            "verify_key": "00", "team": None, "flags": 0, "bot": bot_user(),
            "interactions_endpoint_url": None}


def member_of(user_id: int) -> dict[str, Any]:
    """A guild member object."""
    return {"user": user_of(user_id), "roles": [str(r) for r in _ROLES.get(user_id, [])], "nick": None,
            "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0,
            "pending": False, "avatar": None}


def channel_of(channel_id: int) -> dict[str, Any]:
    """A text channel of the test server."""
    overwrites = []
    if channel_id == MUTED_CHANNEL_ID:  # the bot's role may read but not post here
        overwrites = [{"id": str(BOT_ROLE), "type": 0, "allow": "0", "deny": str(SEND_MESSAGES)}]
    return {"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "position": 0,
            "name": _CHANNELS.get(channel_id, f"channel{channel_id}"), "permission_overwrites": overwrites,
            "parent_id": None, "nsfw": False, "topic": None, "rate_limit_per_user": 0,
            "last_message_id": None, "flags": 0}


def thread_of(thread_id: str, parent_id: str, name: str) -> dict[str, Any]:
    """A public thread the bot started on one of its messages (same id as the message)."""
    return {"id": thread_id, "type": 11, "guild_id": str(GUILD_ID), "parent_id": parent_id,
            "owner_id": str(BOT_ID), "name": name, "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0, "flags": 0, "last_message_id": None,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "locked": False,
                                "archive_timestamp": "2026-11-28T09:00:00+00:00"}}


def _role(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {"id": str(role_id), "name": name, "permissions": str(permissions), "position": position,
            "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}


def guild_create(threads: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """GUILD_CREATE for the test server, with the bot as a member so its permissions can be computed."""
    return {
        "id": str(GUILD_ID), "name": "Pod Club", "owner_id": str(ADMIN_ID), "icon": None,
        "unavailable": False, "large": False, "member_count": 3, "features": [], "emojis": [],
        "stickers": [], "voice_states": [], "presences": [], "stage_instances": [],
        "guild_scheduled_events": [], "premium_tier": 0, "preferred_locale": "en-US",
        "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
        "mfa_level": 0, "nsfw_level": 0, "system_channel_id": None, "afk_channel_id": None,
        "afk_timeout": 300, "joined_at": "2026-01-01T00:00:00+00:00",
        "roles": [_role(GUILD_ID, "@everyone", MEMBER_PERMISSIONS, 0),
                  _role(ADMIN_ROLE, "Admin", MEMBER_PERMISSIONS | MANAGE_GUILD, 2),
                  _role(BOT_ROLE, "Castfive", BOT_PERMISSIONS, 1)],
        "channels": [channel_of(c) for c in _CHANNELS],
        "members": [member_of(u) for u in _NAMES],
        "threads": list(threads),
    }


def _option(name: str, value: Any, attachment_url: str, resolved: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, ChannelRef):
        data = channel_of(value.id)
        resolved.setdefault("channels", {})[str(value.id)] = {
            "id": data["id"], "name": data["name"], "type": 0, "parent_id": None, "nsfw": False,
            "permissions": str(MEMBER_PERMISSIONS | MANAGE_GUILD), "guild_id": str(GUILD_ID)}
        return {"name": name, "type": 7, "value": str(value.id)}
    if isinstance(value, FileRef):
        attachment_id = str(abs(hash(value.filename)) + 10**17)
        resolved.setdefault("attachments", {})[attachment_id] = {
            "id": attachment_id, "filename": value.filename, "size": len(value.data),
            "url": f"{attachment_url}/{value.filename}", "proxy_url": f"{attachment_url}/{value.filename}",
            "content_type": value.content_type, "_data": value.data}
        return {"name": name, "type": 11, "value": attachment_id}
    kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
    return {"name": name, "type": kind, "value": value}


def command_options(path: Sequence[str], values: dict[str, Any], *, focused: str | None,
                    attachment_url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The nested `options` of a slash command under its group, and its `resolved` objects."""
    resolved: dict[str, Any] = {}
    options = [_option(k, v, attachment_url, resolved) for k, v in values.items()]
    for option in options:
        if option["name"] == focused:
            option["focused"] = True
    for depth, name in reversed(list(enumerate(path))):
        options = [{"name": name, "type": 1 if depth == len(path) - 1 else 2, "options": options}]
    return options, resolved
