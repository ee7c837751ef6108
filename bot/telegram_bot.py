"""TelegramAdapter: the python-telegram-bot Application over CastfiveApi, and the ChatPort for digests.

The handlers live in bot.telegram_handlers, the send side in bot.telegram_delivery; this module
builds the Application (token, local server, rate limiter), publishes the command menus and
runs polling.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    Update,
)
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults

from bot import telegram_delivery
from bot.telegram_chat import sub_id_for
from bot.telegram_handlers import TelegramHandlers
from bot.telegram_preferences import TopicHandlers
from core.config import Settings
from core.errors import ConfigError
from core.models import DigestItem, SendOutcome, Subscriber
from core.ports import CastfiveApi, Clock
from core.timeutil import SystemClock

__all__ = ["TelegramAdapter", "sub_id_for"]

log = logging.getLogger(__name__)

_UPDATES = [Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
_EVERYONE = [BotCommand("today", "Today's five insights"), BotCommand("feeds", "Podcasts followed"),
             BotCommand("ask", "Ask about an insight: /ask ID question"),
             BotCommand("search", "Search what you were sent: /search words"),
             BotCommand("export", "Podcasts as OPML; /export insights for notes"),
             BotCommand("help", "What I can do")]
_SETTINGS = [BotCommand("start", "Subscribe this chat"), BotCommand("add", "Follow a podcast"),
             BotCommand("remove", "Stop following a podcast"), BotCommand("import", "Import OPML"),
             BotCommand("time", "Digest time: /time 07:30 Europe/Berlin weekdays"),
             BotCommand("topics", "Topics: /topics ai, energy, startups"),
             BotCommand("pause", "Hold the digest"), BotCommand("resume", "Restart the digest"),
             BotCommand("stop", "Unsubscribe this chat")]


class TelegramAdapter:
    """The Telegram chat adapter: commands, buttons and replies in, digests and answers out."""

    platform = "telegram"

    def __init__(self, api: CastfiveApi, token: str, *, base_url: str | None = None,
                 base_file_url: str | None = None, messages_per_second: float = 25.0,
                 max_retries: int = 0,
                 poll_timeout: float = 10.0, max_opml_bytes: int = 1_000_000,
                 clock: Clock | None = None) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
        # With no retries the limiter logs every 429 as an ERROR with a traceback; the core already
        # logs it once, as a deferred send, and paces the platform.
        logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
        self._api = api
        self._clock = clock or SystemClock()
        self._poll_timeout = poll_timeout
        # No retries by default: a 429 on a digest goes back to the core, whose token bucket then
        # holds every sender. The limiter's own retry bypasses that bucket and, measured with
        # bench/deliver.py, turned one 429 into a storm (78% of the limit, 3,439 429s). Chat
        # replies ask for their own retries (telegram_chat.INTERACTIVE_RETRIES).
        limiter = AIORateLimiter(overall_max_rate=messages_per_second, overall_time_period=1,
                                 max_retries=max_retries)
        builder = (ApplicationBuilder().token(token).rate_limiter(limiter).concurrent_updates(True)
                   # the question may be deleted before its answer is ready: answer anyway
                   .defaults(Defaults(allow_sending_without_reply=True)))
        if base_url:  # a local Bot API server (tests, or a self-hosted telegram-bot-api)
            root = base_url.rstrip("/").removesuffix("/bot")
            files = (base_file_url or root).rstrip("/").removesuffix("/file/bot")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{files}/file/bot")
        self.app: Application = builder.build()
        self.handlers = TelegramHandlers(api, self._clock, max_opml_bytes)
        TopicHandlers(api).register(self.app)  # before the catch-all for unknown private commands
        self.handlers.register(self.app)

    @classmethod
    def from_settings(cls, api: CastfiveApi, settings: Settings) -> TelegramAdapter:
        """The adapter as configured: token from the environment, [telegram] URLs, [delivery] rate."""
        return cls(api, settings.secrets.telegram_token,
                   base_url=settings.telegram.api_base_url or None,
                   base_file_url=settings.telegram.file_base_url or None,
                   messages_per_second=settings.delivery.telegram_messages_per_second)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), publish the command menus and start polling in the background."""
        try:
            await self.app.initialize()
        except InvalidToken:  # PTB's own message quotes the token: never let it reach a log
            raise ConfigError("Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN "
                              "(the one @BotFather gave you).") from None
        bot = self.app.bot
        await bot.set_my_commands(_EVERYONE + _SETTINGS)
        await bot.set_my_commands(_EVERYONE, scope=BotCommandScopeAllGroupChats())
        await bot.set_my_commands(_EVERYONE + _SETTINGS, scope=BotCommandScopeAllChatAdministrators())
        await self.app.start()
        await self.app.updater.start_polling(  # type: ignore[union-attr]
            timeout=timedelta(seconds=self._poll_timeout), allowed_updates=_UPDATES)
        log.info("telegram bot @%s polling", bot.username)

    async def stop(self) -> None:
        """Stop polling, let running handlers finish, close the HTTP clients."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # --- ChatPort ------------------------------------------------------------------------------

    async def send_digest_item(self, subscriber: Subscriber, item: DigestItem) -> SendOutcome:
        """Send one insight with its buttons; the header with the date goes on the first."""
        return await telegram_delivery.send_digest_item(self.app.bot, subscriber, item, self._clock.now())

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        """Send a plain-text note."""
        return await telegram_delivery.send_notice(self.app.bot, subscriber, text)
