"""DiscordAdapter: the ChatPort for Discord and the bot's lifecycle, over discord.py 2.

Outbound: each digest insight is an embed with persistent Ask / 👍 / 👎 buttons, posted in the
subscribed channel or DM; Discord's answers map to core outcomes (403/404 -> GONE, 5xx and
network -> TRANSIENT; 429s are retried by discord.py itself). Inbound: the `/castfive` commands,
the buttons, thread conversations, and servers or channels that go away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands

from bot.discord_commands import castfive
from bot.discord_conversations import continue_conversation
from bot.discord_library import SearchPageButton
from bot.discord_preferences import topics  # noqa: F401 - registers /castfive topics
from bot.discord_replies import NO_MENTIONS, PLATFORM, answer_error, chat_subscriber_id
from bot.discord_views import InsightButton, insight_view
from bot.render import split_message
from bot.render_discord import MESSAGE_LIMIT, item_embed, item_header
from core.config import Settings
from core.errors import CastfiveError, ConfigError
from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber
from core.ports import CastfiveApi

log = logging.getLogger("castfive.discord")

_DEFAULT_BASE = discord.http.Route.BASE
_DEFAULT_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


class CastfiveClient(discord.Client):
    """A discord.py client that carries the service API, the command tree and the event handlers."""

    def __init__(self, api: CastfiveApi, *, guild_ready_timeout: float, message_content: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # servers, channels and threads, for permissions and removals
        intents.guild_messages = intents.dm_messages = True  # follow-ups in threads and DMs
        intents.message_content = message_content  # privileged: switched on in the developer portal
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS,
                         guild_ready_timeout=guild_ready_timeout)
        self.api = api
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(castfive)
        self.tree.error(answer_error)

    async def setup_hook(self) -> None:
        """Buttons from any earlier run are understood again; the commands are published."""
        self.add_dynamic_items(InsightButton, SearchPageButton)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        """A question in one of our threads, or a reply to one of our DMs."""
        await continue_conversation(self, self.api, message)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server: its channels' subscriptions stop."""
        for channel in guild.channels:
            await self._gone(chat_subscriber_id(channel.id), "removed from the server")

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A subscribed channel was deleted."""
        await self._gone(chat_subscriber_id(channel.id), "channel deleted")

    async def _gone(self, subscriber_id: str, reason: str) -> None:
        sub = await self.api.get_subscriber(subscriber_id)
        if sub is not None and sub.active:
            await self.api.recipient_gone(subscriber_id, reason)
            log.info("recipient gone subscriber=%s reason=%s", subscriber_id, reason)


class DiscordAdapter:
    """Implements core.ports.ChatPort for Discord; `start()` logs in and connects, `stop()` closes."""

    platform = PLATFORM

    def __init__(self, api: CastfiveApi, token: str, *, api_base_url: str = "", gateway_url: str = "",
                 ready_timeout: float = 60.0, guild_ready_timeout: float = 2.0) -> None:
        self.api = api
        self._token = token
        self.api_base_url = api_base_url.rstrip("/")
        self.gateway_url = gateway_url
        self.ready_timeout = ready_timeout
        # How long discord.py waits for more servers at connect.
        self.guild_ready_timeout = guild_ready_timeout
        self.client: CastfiveClient | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, api: CastfiveApi, settings: Settings) -> DiscordAdapter:
        """The adapter configured by [discord] and DISCORD_BOT_TOKEN."""
        return cls(api, settings.secrets.discord_token, api_base_url=settings.discord.api_base_url,
                   gateway_url=settings.discord.gateway_url)

    def __repr__(self) -> str:  # never show the token
        return f"DiscordAdapter(api_base_url={self.api_base_url!r})"

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, publish the commands, connect in the background and wait until ready."""
        _point_at(self.api_base_url, self.gateway_url)
        try:
            await self._connect(message_content=True)
        except discord.PrivilegedIntentsRequired:
            log.warning("Discord refused the Message Content intent: follow-up questions in threads are "
                        "only read when they mention the bot. Switch it on in the developer portal "
                        "(Bot > Privileged Gateway Intents).")
            await self._connect(message_content=False)

    async def _connect(self, *, message_content: bool) -> None:
        client = CastfiveClient(self.api, guild_ready_timeout=self.guild_ready_timeout,
                                message_content=message_content)
        try:
            await client.login(self._token)
        except discord.LoginFailure:
            await client.close()
            raise ConfigError("Discord rejected the bot token: check DISCORD_BOT_TOKEN.") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await client.close()
            raise CastfiveError(f"Could not log in to Discord ({type(exc).__name__}).") from None
        task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(client.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            failure = task.exception() if task.done() else None
            await client.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
            if isinstance(failure, discord.PrivilegedIntentsRequired):
                raise failure
            raise CastfiveError(f"Discord's gateway did not get ready "
                                f"({type(failure).__name__ if failure else 'timed out'}).")
        self.client, self._task = client, task
        task.add_done_callback(_log_gateway_end)
        log.info("discord ready user_id=%s servers=%d",
                 client.user.id if client.user else "?", len(client.guilds))

    async def stop(self) -> None:
        """Close the connection; idempotent."""
        client, task = self.client, self._task
        self.client = self._task = None
        if client is not None:
            await client.close()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        _restore_urls(self.api_base_url, self.gateway_url)

    # --- ChatPort ------------------------------------------------------------------------------

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        """Post one insight with its buttons in the subscriber's channel or DM."""
        return await self._send(subscriber, [{"content": item_header(item), "embed": item_embed(item),
                                              "view": insight_view(item.insight.id)}])

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        """Post a short note, split at Discord's 2,000 characters."""
        return await self._send(subscriber, [{"content": c} for c in split_message(text, MESSAGE_LIMIT)])

    async def _send(self, subscriber: Subscriber, messages: list[dict[str, Any]]) -> SendOutcome:
        client = self.client
        if client is None or client.is_closed():
            return SendOutcome(OutcomeKind.TRANSIENT, reason="not connected to Discord")
        try:
            channel = client.get_partial_messageable(int(subscriber.chat_id))
        except ValueError:
            return SendOutcome(OutcomeKind.GONE, reason="not a Discord channel id")
        sent: list[str] = []
        try:
            for message in messages:
                sent.append(str((await channel.send(allowed_mentions=NO_MENTIONS, **message)).id))
        except (discord.Forbidden, discord.NotFound) as exc:
            log.warning("send refused subscriber=%s status=%s code=%s", subscriber.id, exc.status, exc.code)
            return SendOutcome(OutcomeKind.GONE, tuple(sent), reason=f"discord {exc.status}/{exc.code}")
        except discord.RateLimited as exc:
            return SendOutcome(OutcomeKind.RATE_LIMITED, tuple(sent), retry_after=exc.retry_after,
                               reason="discord rate limit")
        except discord.HTTPException as exc:
            log.warning("send failed subscriber=%s status=%s code=%s", subscriber.id, exc.status, exc.code)
            return SendOutcome(OutcomeKind.TRANSIENT, tuple(sent), reason=f"discord {exc.status}/{exc.code}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("send failed subscriber=%s error=%s", subscriber.id, type(exc).__name__)
            return SendOutcome(OutcomeKind.TRANSIENT, tuple(sent), reason=type(exc).__name__)
        return SendOutcome.delivered(*sent)


def _point_at(api_base_url: str, gateway_url: str) -> None:
    """Aim discord.py at another API and gateway (a test fake, or a proxy); process-wide."""
    if api_base_url and not api_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"discord.api_base_url must be an http(s) URL, not {api_base_url[:40]!r}")
    if gateway_url and not gateway_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"discord.gateway_url must be a ws(s) URL, not {gateway_url[:40]!r}")
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def _restore_urls(api_base_url: str, gateway_url: str) -> None:
    if api_base_url and api_base_url == discord.http.Route.BASE:
        discord.http.Route.BASE = _DEFAULT_BASE
    if gateway_url and str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _DEFAULT_GATEWAY


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("discord gateway stopped", exc_info=task.exception())
