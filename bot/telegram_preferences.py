"""Telegram /topics: show, set or clear what the chat's digest leans towards."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, filters

from bot import telegram_chat as tc
from bot.render_topics import topics_html
from bot.telegram_chat import Context, chat_sub
from core.errors import NotFoundError
from core.ports import CastfiveApi


class TopicHandlers:
    """`/topics`, `/topics ai, energy` (admins in groups) and `/topics clear`."""

    def __init__(self, api: CastfiveApi) -> None:
        self._api = api

    def register(self, app: Application) -> None:
        """Route /topics in chats and channels."""
        posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        app.add_handler(CommandHandler("topics", self._cmd_topics, filters=posts))

    async def _cmd_topics(self, update: Update, context: Context) -> None:
        text, sub_id = " ".join(context.args or []), chat_sub(update)
        if not text:
            sub = await self._api.get_subscriber(sub_id)
            if sub is None:
                raise NotFoundError("This chat is not subscribed yet. Send /start first.")
        else:
            await tc.require_admin(update, context)
            cleared = text.strip().lower() == "clear"
            sub = await (self._api.clear_topics(sub_id) if cleared
                         else self._api.set_topics(sub_id, text))
        await tc.reply(update, topics_html(sub))
