"""TelegramAdapter: python-telegram-bot handlers over CastfiveApi, and the ChatPort for digests.

Handlers only parse the update, call the service, render and reply; every CastfiveError is
answered to the user in one place (`_on_error`), everything else is logged with its chat.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from datetime import timedelta

from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    ForceReply,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot import render_telegram as rt
from bot.render import split_message
from core.config import Settings
from core.errors import (
    CastfiveError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber
from core.ports import CastfiveApi, Clock, MessageRef
from core.timeutil import SystemClock, parse_zone

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
RESERVED_USER_IDS = frozenset({1087968824, 777000})  # GroupAnonymousBot, Telegram service
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram says these when the chat is gone for good or we may no longer write to it.
_GONE_HINTS = ("chat not found", "not enough rights", "have no rights", "chat_write_forbidden",
               "need administrator rights", "bot was kicked", "user is deactivated")
_UPDATES = [Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
_EVERYONE = [BotCommand("today", "Today's five insights"), BotCommand("feeds", "Podcasts followed"),
             BotCommand("ask", "Ask about an insight: /ask ID question"),
             BotCommand("export", "Podcasts as an OPML file"), BotCommand("help", "What I can do")]
_SETTINGS = [BotCommand("start", "Subscribe this chat"), BotCommand("add", "Follow a podcast"),
             BotCommand("remove", "Stop following a podcast"), BotCommand("import", "Import OPML"),
             BotCommand("time", "Digest time: /time 07:30 Europe/Berlin"),
             BotCommand("pause", "Hold the digest"), BotCommand("resume", "Restart the digest"),
             BotCommand("stop", "Unsubscribe this chat")]


def sub_id_for(chat_id: int | str) -> str:
    """The subscriber id of a Telegram chat."""
    return f"telegram:{chat_id}"


def _conversation_id(chat_id: int, message_id: int) -> str:
    return f"telegram:{chat_id}:{message_id}"


def _user_key(update: Update) -> str:
    user = update.effective_user
    if user and user.id not in RESERVED_USER_IDS:
        return f"telegram:{user.id}"
    return f"telegram:chat{update.effective_chat.id if update.effective_chat else 0}"


def _is_gone(exc: TelegramError) -> bool:
    return any(hint in str(exc).lower() for hint in _GONE_HINTS)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns about int vs timedelta; we accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    """The Telegram chat adapter: commands, buttons and replies in, digests and answers out."""

    platform = "telegram"

    def __init__(self, api: CastfiveApi, token: str, *, base_url: str | None = None,
                 base_file_url: str | None = None, messages_per_second: float = 25.0,
                 max_retries: int = 3,
                 poll_timeout: float = 10.0, max_opml_bytes: int = 1_000_000,
                 clock: Clock | None = None) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
        self._api = api
        self._clock = clock or SystemClock()
        self._poll_timeout = poll_timeout
        self._max_opml_bytes = max_opml_bytes
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
        self._register(self.app)

    @classmethod
    def from_settings(cls, api: CastfiveApi, settings: Settings) -> TelegramAdapter:
        """The adapter as configured: token from the environment, [telegram] URLs, [delivery] rate."""
        return cls(api, settings.secrets.telegram_token,
                   base_url=settings.telegram.api_base_url or None,
                   base_file_url=settings.telegram.file_base_url or None,
                   messages_per_second=settings.delivery.telegram_messages_per_second)

    def _register(self, app: Application) -> None:
        posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        for name in ("start", "help", "today", "feeds", "add", "remove", "import", "export",
                     "time", "pause", "resume", "ask", "stop"):
            app.add_handler(CommandHandler(name, getattr(self, f"_cmd_{name}"), filters=posts))
        app.add_handler(MessageHandler(
            posts & filters.Document.ALL & filters.CaptionRegex(r"^/import(@\w+)?(\s|$)"),
            self._cmd_import))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        app.add_handler(MessageHandler(posts & filters.REPLY & filters.TEXT & ~filters.COMMAND,
                                       self._on_reply))
        app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
                                       & (filters.TEXT | filters.COMMAND), self._on_chatter))
        app.add_handler(CallbackQueryHandler(self._on_ask_button, pattern=rf"^{rt.ASK}:"))
        app.add_handler(CallbackQueryHandler(self._on_vote, pattern=rf"^[{rt.UPVOTE}{rt.DOWNVOTE}]:"))
        app.add_handler(CallbackQueryHandler(self._on_remove_button, pattern=rf"^{rt.REMOVE_FEED}:"))
        app.add_handler(CallbackQueryHandler(self._on_pick_button, pattern=rf"^{rt.PICK_CHOICE}:"))
        app.add_handler(ChatMemberHandler(self._on_my_status, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self._on_error)

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
        local_date = self._local_date(subscriber) if item.position == 1 else None
        return await self._deliver(subscriber.chat_id, rt.render_item_html(item, local_date),
                                   rt.render_item_plain(item, local_date),
                                   rt.item_keyboard(item.insight.id))

    async def send_notice(self, subscriber: Subscriber, text: str) -> SendOutcome:
        """Send a plain-text note."""
        return await self._deliver(subscriber.chat_id, None, text, None)

    def _local_date(self, subscriber: Subscriber) -> str:
        try:
            zone = parse_zone(subscriber.timezone)
        except ValueError:
            zone = parse_zone("UTC")
        return self._clock.now().astimezone(zone).date().isoformat()

    async def _deliver(self, chat: str, html: str | None, plain: str,
                       keyboard: InlineKeyboardMarkup | None) -> SendOutcome:
        bot, chat_id = self.app.bot, int(chat) if chat.lstrip("-").isdigit() else chat
        try:
            if html is not None:
                try:
                    sent = await bot.send_message(chat_id, html, parse_mode=ParseMode.HTML,
                                                  reply_markup=keyboard, link_preview_options=NO_PREVIEW)
                    return SendOutcome.delivered(str(sent.message_id))
                except BadRequest as exc:
                    if _is_gone(exc):
                        raise
                    log.warning("telegram chat %s refused the HTML (%s); resending as plain text",
                                chat_id, exc)
            sent = await bot.send_message(chat_id, plain, reply_markup=keyboard,
                                          link_preview_options=NO_PREVIEW)
            return SendOutcome.delivered(str(sent.message_id))
        except Forbidden as exc:
            return SendOutcome(OutcomeKind.GONE, reason=str(exc))
        except ChatMigrated as exc:
            return SendOutcome(OutcomeKind.MOVED, new_chat_id=str(exc.new_chat_id), reason=str(exc))
        except RetryAfter as exc:
            return SendOutcome(OutcomeKind.RATE_LIMITED, retry_after=_seconds(exc), reason=str(exc))
        except BadRequest as exc:  # before NetworkError: PTB derives BadRequest from it
            kind = OutcomeKind.GONE if _is_gone(exc) else OutcomeKind.TRANSIENT
            log.warning("telegram send to chat %s failed: %s", chat_id, exc)
            return SendOutcome(kind, reason=str(exc))
        except (NetworkError, TelegramError) as exc:
            return SendOutcome(OutcomeKind.TRANSIENT, reason=str(exc))

    # --- helpers for handlers ------------------------------------------------------------------

    async def _reply(self, update: Update, html: str, *, keyboard: InlineKeyboardMarkup | None = None,
                     quote: bool | None = None, plain: str | None = None) -> Message:
        """Reply in HTML; if Telegram cannot parse it, the same words go out as plain text."""
        message = update.effective_message
        assert message is not None
        try:
            return await message.reply_text(html, parse_mode=ParseMode.HTML, reply_markup=keyboard,
                                            link_preview_options=NO_PREVIEW, do_quote=quote)
        except BadRequest as exc:
            if "can't parse entities" not in str(exc).lower():
                raise
            log.warning("chat %s refused our HTML (%s); replying in plain text", message.chat_id, exc)
            return await message.reply_text(plain or rt.html_to_plain(html), reply_markup=keyboard,
                                            link_preview_options=NO_PREVIEW, do_quote=quote)

    async def _is_admin(self, update: Update, context: Context) -> bool:
        """Private chats: yes. Groups and channels: the chat itself or a real admin."""
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE:
            return chat is not None
        posted = update.message or update.channel_post  # not a button's message: that one is ours
        if posted and posted.sender_chat and posted.sender_chat.id == chat.id:
            return True  # an anonymous admin, or the channel posting as itself
        user = update.effective_user
        if user is None or user.id in RESERVED_USER_IDS or user.is_bot:
            return False
        member = await context.bot.get_chat_member(chat.id, user.id)
        return member.status in ADMIN_STATUSES

    async def _require_admin(self, update: Update, context: Context) -> None:
        if not await self._is_admin(update, context):
            raise PermissionDeniedError("Only this chat's admins can change its Castfive settings.")

    def _sub(self, update: Update) -> str:
        assert update.effective_chat is not None
        return sub_id_for(update.effective_chat.id)

    async def _answer(self, update: Update, insight_id: str, question: str, conversation: str) -> None:
        """Ask the service, reply with the answer, remember it so a reply continues the talk."""
        message = update.effective_message
        assert message is not None
        with contextlib.suppress(TelegramError):
            await message.chat.send_action(ChatAction.TYPING)
        answer = await self._api.ask(insight_id, question, user_key=_user_key(update),
                                     conversation_id=conversation)
        for n, chunk in enumerate(rt.render_answer_html(answer)):
            sent = await self._reply(update, chunk, quote=n == 0)
            await self._api.remember_message(self._sub(update), str(sent.message_id),
                                             MessageRef(insight_id, conversation))

    async def _prompt_question(self, update: Update, message: Message, insight_id: str) -> None:
        """Reply to `message` asking for the question (ForceReply) and remember the prompt."""
        item = await self._api.insight_item(insight_id)
        user = update.effective_user
        named = user if user and user.id not in RESERVED_USER_IDS and message.chat.type != ChatType.PRIVATE else None
        text = rt.render_ask_prompt_html(item, named.id if named else None, named.first_name if named else "")
        sent = await message.reply_text(
            text, parse_mode=ParseMode.HTML, do_quote=True, link_preview_options=NO_PREVIEW,
            reply_markup=ForceReply(selective=True, input_field_placeholder="Your question"))
        await self._api.remember_message(self._sub(update), str(sent.message_id), MessageRef(
            insight_id, _conversation_id(sent.chat_id, sent.message_id)))

    # --- commands -------------------------------------------------------------------------------

    async def _cmd_start(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        assert chat is not None
        if await self._is_admin(update, context):
            title = chat.title or chat.full_name or chat.username or ""
            sub = await self._api.subscribe(self.platform, str(chat.id), title)
        elif (found := await self._api.get_subscriber(self._sub(update))) and found.active:
            sub = found  # a member may read the welcome, but only admins subscribe a group
        else:
            raise PermissionDeniedError("Only this chat's admins can subscribe it to Castfive.")
        await self._reply(update, rt.render_welcome_html(sub, await self._api.next_delivery(sub.id)))

    async def _cmd_help(self, update: Update, context: Context) -> None:
        await self._reply(update, rt.HELP_HTML)

    async def _cmd_today(self, update: Update, context: Context) -> None:
        digest = await self._api.today(self._sub(update))
        if not digest.items:
            await self._reply(update, "Nothing new yet today. I'll send your five when they are ready.")
        for item in digest.items:
            sent = await self._reply(update, rt.render_item_html(item, digest.local_date),
                                     keyboard=rt.item_keyboard(item.insight.id), quote=False,
                                     plain=rt.render_item_plain(item, digest.local_date))
            await self._api.remember_message(self._sub(update), str(sent.message_id), MessageRef(
                item.insight.id, _conversation_id(sent.chat_id, sent.message_id)))

    async def _cmd_feeds(self, update: Update, context: Context) -> None:
        feeds = await self._api.list_feeds(self._sub(update))
        await self._reply(update, rt.render_feeds_html(feeds), keyboard=rt.feeds_keyboard(feeds))

    async def _cmd_add(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        terms = " ".join(context.args or [])
        if not terms:
            raise ValidationError("Send /add followed by a feed URL or a podcast's name.")
        result = await self._api.add_feed(self._sub(update), terms)
        if result.feed:
            await self._reply(update, rt.render_added_html(result.feed))
        else:
            await self._reply(update, rt.render_candidates_html(terms, result.candidates),
                              keyboard=rt.candidates_keyboard(result.candidates))

    async def _cmd_remove(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        if context.args:
            await self._api.remove_feed(self._sub(update), context.args[0])
            await self._reply(update, "Removed. Its episodes won't appear in your digest any more.")
        else:
            await self._cmd_feeds(update, context)

    async def _cmd_import(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        message = update.effective_message
        assert message is not None
        doc = message.document or (message.reply_to_message and message.reply_to_message.document)
        if not doc:
            raise ValidationError("Send your OPML file with the caption /import, or reply /import to it.")
        if (doc.file_size or 0) > self._max_opml_bytes:
            raise ValidationError(f"That file is too big: OPML files up to {self._max_opml_bytes // 1000} kB.")
        data = bytes(await (await doc.get_file()).download_as_bytearray())
        if len(data) > self._max_opml_bytes:
            raise ValidationError(f"That file is too big: OPML files up to {self._max_opml_bytes // 1000} kB.")
        result = await self._api.import_opml(self._sub(update), data)
        for chunk in split_message(rt.render_import_html(result), rt.CHUNK_LIMIT):
            await self._reply(update, chunk)

    async def _cmd_export(self, update: Update, context: Context) -> None:
        data = await self._api.export_opml(self._sub(update))
        assert update.effective_message is not None
        await update.effective_message.reply_document(
            InputFile(data, filename="castfive.opml"),
            caption="Your podcasts as OPML: import them into any podcast app.")

    async def _cmd_time(self, update: Update, context: Context) -> None:
        args, sub_id = context.args or [], self._sub(update)
        if args:
            await self._require_admin(update, context)
            sub = await self._api.set_delivery_time(sub_id, args[0], args[1] if len(args) > 1 else None)
        elif (found := await self._api.get_subscriber(sub_id)) is None:
            raise NotFoundError("This chat is not subscribed yet. Send /start first.")
        else:
            sub = found
        await self._reply(update, rt.render_schedule_html(sub, await self._api.next_delivery(sub_id)))

    async def _cmd_pause(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        await self._api.pause(self._sub(update))
        await self._reply(update, "Paused: no digests until you send /resume.")

    async def _cmd_resume(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        sub = await self._api.resume(self._sub(update))
        await self._reply(update, rt.render_schedule_html(sub, await self._api.next_delivery(sub.id)))

    async def _cmd_stop(self, update: Update, context: Context) -> None:
        await self._require_admin(update, context)
        await self._api.unsubscribe(self._sub(update))
        await self._reply(update, "Unsubscribed: no more digests here. Send /start to come back.")

    async def _cmd_ask(self, update: Update, context: Context) -> None:
        args, message = context.args or [], update.effective_message
        assert message is not None
        if not args:
            items = await self._api.recent_insights(self._sub(update))
            await self._reply(update, rt.render_recent_html(items))
        elif len(args) == 1:
            await self._prompt_question(update, message, args[0])
        else:
            conversation = _conversation_id(message.chat_id, message.message_id)
            await self._answer(update, args[0], " ".join(args[1:]), conversation)

    # --- replies, buttons and chat events ---------------------------------------------------------

    async def _on_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.reply_to_message is not None and message.text
        replied = message.reply_to_message
        if replied.from_user and replied.from_user.id != context.bot.id:
            return  # a conversation between people: not ours to answer
        ref = await self._api.lookup_message(self._sub(update), str(replied.message_id))
        if ref is None:
            if message.chat.type == ChatType.PRIVATE:
                await self._reply(update, rt.CHATTER_HTML)
            return
        await self._answer(update, ref.insight_id, message.text, ref.conversation_id)

    async def _on_chatter(self, update: Update, context: Context) -> None:
        await self._reply(update, rt.CHATTER_HTML)

    async def _on_ask_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        insight_id = rt.parse_callback(query.data)[1]
        if query.message.chat.type == ChatType.CHANNEL:  # readers cannot reply in a channel
            await query.answer(f"Ask me in a private chat: /ask {insight_id} your question",
                               show_alert=True)
            return
        await self._prompt_question(update, query.message, insight_id)
        await query.answer()

    async def _on_vote(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        action, insight_id = rt.parse_callback(query.data)
        vote = 1 if action == rt.UPVOTE else -1
        await self._api.feedback(sub_id_for(query.message.chat.id), insight_id, vote)
        await query.answer("👍 Thanks! More like this." if vote > 0 else "👎 Noted: fewer like this.")

    async def _on_remove_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await self._require_admin(update, context)
        await self._api.remove_feed(self._sub(update), rt.parse_callback(query.data)[1])
        feeds = await self._api.list_feeds(self._sub(update))
        await query.edit_message_text(rt.render_feeds_html(feeds), parse_mode=ParseMode.HTML,
                                      reply_markup=rt.feeds_keyboard(feeds))
        await query.answer("Removed.")

    async def _on_pick_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        await self._require_admin(update, context)
        feed = await self._api.add_search_choice(self._sub(update), rt.parse_callback(query.data)[1])
        await query.edit_message_text(rt.render_added_html(feed), parse_mode=ParseMode.HTML)
        await query.answer("Added.")

    async def _on_my_status(self, update: Update, context: Context) -> None:
        change = update.my_chat_member
        assert change is not None
        chat, old, new = change.chat, change.old_chat_member.status, change.new_chat_member.status
        if new in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            reason = "blocked" if chat.type == ChatType.PRIVATE else f"removed ({new})"
            with contextlib.suppress(NotFoundError):  # a chat that never subscribed
                await self._api.recipient_gone(sub_id_for(chat.id), reason)
        elif old in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT) and chat.type != ChatType.PRIVATE:
            await context.bot.send_message(chat.id, rt.GREETING_HTML, parse_mode=ParseMode.HTML)

    async def _on_migrate(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message and message.migrate_to_chat_id:
            with contextlib.suppress(NotFoundError):
                await self._api.migrate(sub_id_for(message.chat_id), str(message.migrate_to_chat_id))

    async def _on_error(self, update: object, context: Context) -> None:
        """CastfiveErrors are told to the user; anything else is logged with its chat."""
        error = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(error, CastfiveError):
            text = str(error)
            if isinstance(error, RateLimitedError):  # our words: the wait counted on our clock
                wait = (error.retry_at - self._clock.now()).total_seconds()
                text = f"You have asked a lot of questions lately. You can ask again {rt.format_wait(wait)}."
            log.info("telegram chat %s: %s", chat.id if chat else "-", type(error).__name__)
        else:
            log.error("telegram update in chat %s failed", chat.id if chat else "-", exc_info=error)
            text = "Sorry, something went wrong on my side. Please try again in a little while."
        if isinstance(update, Update):
            await self._tell(update, text)

    async def _tell(self, update: Update, text: str) -> None:
        with contextlib.suppress(TelegramError):
            if update.callback_query:
                await update.callback_query.answer(text[:200], show_alert=True)
            elif update.effective_message:
                await update.effective_message.reply_text(text, link_preview_options=NO_PREVIEW)
