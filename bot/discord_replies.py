"""How the Discord bot answers an interaction: first response or followup, slow work, and errors.

`answer_error` is the one place where a failure becomes words for the member: commands reach it
through the command tree's error handler, buttons and modals call it from their own handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord
from discord import app_commands

from bot.render_discord import (
    NEED_MANAGE_SERVER,
    ONLY_ON_SERVERS,
    SOMETHING_WENT_WRONG,
    rate_limited_text,
)
from core.delivery.subscriptions import subscriber_id_for
from core.errors import CastfiveError, RateLimitedError
from core.ports import CastfiveApi

log = logging.getLogger("castfive.discord")

NO_MENTIONS = discord.AllowedMentions.none()
PLATFORM = "discord"
DEFER_AFTER_S = 1.5  # Discord wants a first answer within 3 s; quick work answers directly


def api_of(interaction: discord.Interaction[Any]) -> CastfiveApi:
    """The service API the client carries."""
    return interaction.client.api


def chat_subscriber_id(chat_id: int | str) -> str:
    """'discord:<channel id>': a server channel's or a DM channel's subscriber."""
    return subscriber_id_for(PLATFORM, str(chat_id))


def chat_of(interaction: discord.Interaction[Any]) -> str:
    """The subscriber an interaction speaks for: its channel's, or a thread's parent channel's."""
    channel = interaction.channel
    parent = channel.parent_id if isinstance(channel, discord.Thread) else None
    return chat_subscriber_id(parent or interaction.channel_id or 0)


def user_key(user: discord.abc.User) -> str:
    """Whose questions count against the per-member cooldown."""
    return f"{PLATFORM}:{user.id}"


async def reply(interaction: discord.Interaction[Any], content: str | None = None, *,
                ephemeral: bool = False, **kwargs: Any) -> discord.Message | None:
    """Answer an interaction (its first response, or a followup once it has one); never pings."""
    kwargs["allowed_mentions"] = NO_MENTIONS
    if interaction.response.is_done():
        return await interaction.followup.send(content, ephemeral=ephemeral, wait=True, **kwargs)  # type: ignore[call-overload]
    callback = await interaction.response.send_message(content, ephemeral=ephemeral, **kwargs)
    resource = callback.resource if callback is not None else None
    return resource if isinstance(resource, discord.Message) else None


@contextlib.asynccontextmanager
async def thinking(interaction: discord.Interaction[Any], *, ephemeral: bool = False,
                   after: float | None = None) -> AsyncIterator[None]:
    """Show "thinking…" only when the work inside takes longer than `after` seconds.

    Quick answers and quick errors (cooldowns, bad ids) then go out as a first response, so an
    error can still be ephemeral; slow work is deferred before Discord's 3-second deadline.
    """
    started = asyncio.Event()
    delay = DEFER_AFTER_S if after is None else after

    async def defer_later() -> None:
        await asyncio.sleep(delay)
        started.set()
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True, ephemeral=ephemeral)

    task = asyncio.create_task(defer_later())
    try:
        yield
    finally:
        if started.is_set():
            with contextlib.suppress(discord.HTTPException):
                await task  # a defer in flight must land before anything else is sent
        else:
            task.cancel()


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(error, (app_commands.CommandInvokeError, app_commands.TransformerError)) \
            and error.__cause__ is not None:
        error = error.__cause__
    return error


def error_text(error: BaseException) -> str:
    """What a member is told about a failure."""
    error = _unwrap(error)
    if isinstance(error, RateLimitedError):
        return rate_limited_text(error)
    if isinstance(error, CastfiveError):
        return str(error)
    if isinstance(error, app_commands.MissingPermissions):
        return NEED_MANAGE_SERVER
    if isinstance(error, app_commands.NoPrivateMessage):
        return ONLY_ON_SERVERS
    if isinstance(error, app_commands.TransformerError):
        return f"“{str(error.value)[:80]}” is not something I can use there."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use that here."
    return SOMETHING_WENT_WRONG


def log_error(error: BaseException, where: str) -> None:
    """Expected refusals at info, anything else with its traceback."""
    cause = _unwrap(error)
    if isinstance(cause, (CastfiveError, app_commands.CheckFailure, app_commands.TransformerError)):
        log.info("refused %s: %s", where, type(cause).__name__)
    else:
        log.error("failed %s", where, exc_info=cause)


async def answer_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Log a failed command, button or modal and tell the member, privately."""
    name = interaction.command.qualified_name if interaction.command else interaction.type.name
    log_error(error, f"interaction={name} user={interaction.user.id}")
    if interaction.type == discord.InteractionType.autocomplete:
        return  # nothing can be shown while a member types
    try:
        await reply(interaction, error_text(error), ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error interaction=%s", name)
