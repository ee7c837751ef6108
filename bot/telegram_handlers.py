"""Telegram update handlers: commands, replies, buttons and chat events, each a few lines.

Handlers parse the update, call the CastfiveApi, render and reply; every CastfiveError is
answered to the user in one place (`on_error`), everything else is logged with its chat.
"""

from __future__ import annotations

import contextlib

from telegram import InputFile, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import render_telegram as rt
from bot import telegram_chat as tc
from bot.render_import import FAILURES_FILENAME, failures_file
from bot.render_sharing import export_caption
from bot.telegram_chat import Context, chat_sub, sub_id_for
from bot.telegram_library import TelegramLibrary
from core.cadence import parse_time_words
from core.chat_cooldown import PostedRecentlyError
from core.errors import NotFoundError, PermissionDeniedError, ValidationError
from core.ports import CastfiveApi, Clock, MessageRef

COMMANDS = ("start", "help", "today", "feeds", "add", "remove", "import", "export",
            "time", "pause", "resume", "ask", "stop")


class TelegramHandlers:
    """The bot's handlers over one CastfiveApi; `register` adds them to a PTB Application."""

    platform = "telegram"

    def __init__(self, api: CastfiveApi, clock: Clock, max_opml_bytes: int) -> None:
        self._api = api
        self._clock = clock
        self._max_opml_bytes = max_opml_bytes
        self.library = TelegramLibrary(api)  # /search and /export insights: bot/telegram_library.py

    def register(self, app: Application) -> None:
        """Route commands, OPML uploads, replies, buttons, migrations and membership changes."""
        posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        for name in COMMANDS:
            app.add_handler(CommandHandler(name, getattr(self, f"_cmd_{name}"), filters=posts))
        self.library.register(app)
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
        app.add_error_handler(self.on_error)

    # --- commands -------------------------------------------------------------------------------

    async def _cmd_start(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        assert chat is not None
        if await tc.is_admin(update, context):
            title = chat.title or chat.full_name or chat.username or ""
            sub = await self._api.subscribe(self.platform, str(chat.id), title)
        elif (found := await self._api.get_subscriber(chat_sub(update))) and found.active:
            sub = found  # a member may read the welcome, but only admins subscribe a group
        else:
            raise PermissionDeniedError("Only this chat's admins can subscribe it to Castfive.")
        await tc.reply(update, rt.render_welcome_html(sub, await self._api.next_delivery(sub.id)))

    async def _cmd_help(self, update: Update, context: Context) -> None:
        await tc.reply(update, rt.HELP_HTML)

    async def _cmd_today(self, update: Update, context: Context) -> None:
        try:  # in a group, once an hour: sooner, one line points at the last post
            digest = await self._api.today(chat_sub(update), shared_chat=not tc.in_private_chat(update))
        except PostedRecentlyError as hit:
            await tc.point_at_post(update, hit, self._clock)
            return
        if digest.follows_nothing:
            await tc.reply(update, rt.NO_PODCASTS)
        elif not digest.items:
            await tc.reply(update, "Nothing new yet today. I'll send your five when they are ready.")
        try:
            for item in digest.items:
                sent = await tc.reply(update, rt.render_item_html(item, digest.local_date),
                                   keyboard=rt.item_keyboard(item.insight.id), quote=False,
                                   plain=rt.render_item_plain(item, digest.local_date))
                await self._api.remember_message(chat_sub(update), str(sent.message_id), MessageRef(
                    item.insight.id, tc.conversation_id(sent.chat_id, sent.message_id)))
                if item is digest.items[0]:
                    await self._api.note_today_post(chat_sub(update), str(sent.message_id))
        except Exception:  # nothing reached the chat: the hour's turn must not point at nothing
            await self._api.today_not_posted(chat_sub(update))
            raise

    async def _cmd_feeds(self, update: Update, context: Context) -> None:
        feeds = await self._api.list_feeds(chat_sub(update))
        await tc.reply(update, rt.render_feeds_html(feeds), keyboard=rt.feeds_keyboard(feeds))

    async def _cmd_add(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        terms = " ".join(context.args or [])
        if not terms:
            raise ValidationError("Send /add followed by a feed URL or a podcast's name.")
        result = await self._api.add_feed(chat_sub(update), terms)
        if result.feed:
            await tc.reply(update, rt.render_added_html(result.feed))
        else:
            await tc.reply(update, rt.render_candidates_html(terms, result.candidates),
                        keyboard=rt.candidates_keyboard(result.candidates))

    async def _cmd_remove(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        if context.args:
            await self._api.remove_feed(chat_sub(update), context.args[0])
            await tc.reply(update, "Removed. Its episodes won't appear in your digest any more.")
        else:
            await self._cmd_feeds(update, context)

    async def _cmd_import(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        message = update.effective_message
        assert message is not None
        doc = message.document or (message.reply_to_message and message.reply_to_message.document)
        if not doc:
            raise ValidationError("Send your OPML file with the caption /import, or reply /import to it.")
        too_big = ValidationError(
            f"That file is too big: OPML files up to {self._max_opml_bytes // 1000} kB.")
        if (doc.file_size or 0) > self._max_opml_bytes:
            raise too_big
        data = bytes(await (await doc.get_file()).download_as_bytearray())
        if len(data) > self._max_opml_bytes:
            raise too_big
        result = await self._api.import_opml(chat_sub(update), data)
        if (failures := failures_file(result)) is None:
            await tc.reply(update, rt.render_import_html(result))
        else:  # one message still: the report is the caption of the full failure list
            await tc.patiently(lambda: message.reply_document(
                InputFile(failures, filename=FAILURES_FILENAME), parse_mode=ParseMode.HTML,
                caption=rt.render_import_html(result, rt.CAPTION_LIMIT)))

    async def _cmd_export(self, update: Update, context: Context) -> None:
        # a group's feeds and insights are its admins' business (and files fill a group fast)
        await tc.require_admin(update, context)
        if await self.library.export_insights(update, context):
            return
        export = await self._api.export_opml(chat_sub(update), private_chat=tc.in_private_chat(update))
        assert update.effective_message is not None
        await update.effective_message.reply_document(
            InputFile(export.data, filename="castfive.opml"), caption=export_caption(export.hidden))

    async def _cmd_time(self, update: Update, context: Context) -> None:
        args, sub_id = context.args or [], chat_sub(update)
        if args:
            await tc.require_admin(update, context)
            sub = await self._api.set_schedule(sub_id, parse_time_words(args))
        elif (found := await self._api.get_subscriber(sub_id)) is None:
            raise NotFoundError("This chat is not subscribed yet. Send /start first.")
        else:
            sub = found
        await tc.reply(update, rt.render_schedule_html(sub, await self._api.next_delivery(sub_id)))

    async def _cmd_pause(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        await self._api.pause(chat_sub(update))
        await tc.reply(update, "Paused: no digests until you send /resume.")

    async def _cmd_resume(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        sub = await self._api.resume(chat_sub(update))
        await tc.reply(update, rt.render_schedule_html(sub, await self._api.next_delivery(sub.id)))

    async def _cmd_stop(self, update: Update, context: Context) -> None:
        await tc.require_admin(update, context)
        await self._api.unsubscribe(chat_sub(update))
        await tc.reply(update, "Unsubscribed: no more digests here. Send /start to come back.")

    async def _cmd_ask(self, update: Update, context: Context) -> None:
        args, message = context.args or [], update.effective_message
        assert message is not None
        if not args:
            await tc.reply(update, rt.render_recent_html(await self._api.recent_insights(chat_sub(update))))
        elif len(args) == 1:
            await tc.prompt_question(self._api, update, message, args[0])
        else:
            conversation = tc.conversation_id(message.chat_id, message.message_id)
            await tc.answer(self._api, update, args[0], " ".join(args[1:]), conversation)

    # --- replies, buttons and chat events ---------------------------------------------------------

    async def _on_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.reply_to_message is not None and message.text
        replied = message.reply_to_message
        if replied.from_user and replied.from_user.id != context.bot.id:
            return  # a conversation between people: not ours to answer
        ref = await self._api.lookup_message(chat_sub(update), str(replied.message_id))
        if ref is None:
            if message.chat.type == ChatType.PRIVATE:
                await tc.reply(update, rt.CHATTER_HTML)
            return
        await tc.answer(self._api, update, ref.insight_id, message.text, ref.conversation_id)

    async def _on_chatter(self, update: Update, context: Context) -> None:
        await tc.reply(update, rt.CHATTER_HTML)

    async def _on_ask_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        insight_id = rt.parse_callback(query.data)[1]
        if query.message.chat.type == ChatType.CHANNEL:  # readers cannot reply in a channel
            await query.answer(f"Ask me in a private chat: /ask {insight_id} your question",
                               show_alert=True)
            return
        await tc.prompt_question(self._api, update, query.message, insight_id)
        await query.answer()

    async def _on_vote(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        action, insight_id = rt.parse_callback(query.data)
        vote = 1 if action == rt.UPVOTE else -1
        await self._api.feedback(sub_id_for(query.message.chat.id), insight_id, vote,
                                 user_key=tc.user_key(update))
        await query.answer("👍 Thanks! More like this." if vote > 0 else "👎 Noted: fewer like this.")

    async def _on_remove_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await tc.require_admin(update, context)
        await self._api.remove_feed(chat_sub(update), rt.parse_callback(query.data)[1])
        feeds = await self._api.list_feeds(chat_sub(update))
        await query.edit_message_text(rt.render_feeds_html(feeds), parse_mode=ParseMode.HTML,
                                      reply_markup=rt.feeds_keyboard(feeds))
        await query.answer("Removed.")

    async def _on_pick_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        await tc.require_admin(update, context)
        feed = await self._api.add_search_choice(chat_sub(update), rt.parse_callback(query.data)[1])
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

    async def on_error(self, update: object, context: Context) -> None:
        """CastfiveErrors are told to the user; anything else is logged with its chat."""
        chat = update.effective_chat if isinstance(update, Update) else None
        text = tc.error_text(context.error, chat.id if chat else "-", self._clock)
        if isinstance(update, Update):
            await tc.tell(update, text)
