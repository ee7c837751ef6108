"""Telegram's library commands: /search with paging buttons, /export insights as files.

Buttons carry 's:<search id>:<page>'; the id names a search this chat ran (kept by the core),
so a forged or foreign button finds nothing and a page number out of range shows the nearest page.
"""

from __future__ import annotations

import re
from functools import partial

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot import telegram_chat as tc
from bot.render_library import telegram_page_html
from bot.render_telegram import SEARCH_PAGE, callback_data
from bot.telegram_chat import Context, chat_sub
from bot.telegram_delivery import NO_PREVIEW
from core.errors import ValidationError
from core.library.models import SearchPage
from core.ports import CastfiveApi

UPLOAD_LIMIT = 49 * 1000 * 1000  # the Bot API takes documents up to 50 MB; headroom for the form
_PAGE_DATA = re.compile(r"^([a-z0-9]{6}):(\d{1,3})$")
EXPORT_USAGE = "Send /export insights, or /export insights since 2026-11-01 for the newer ones."
CAPTIONS = {"markdown": "Your Castfive insights as Markdown, ready for Obsidian",
            "readwise": "Your Castfive insights as CSV for Readwise (readwise.io/import_bulk)"}


class TelegramLibrary:
    """The /search command, its paging buttons and the insights branch of /export."""

    def __init__(self, api: CastfiveApi) -> None:
        self._api = api

    def register(self, app: Application) -> None:
        """Add the /search command and its buttons."""
        posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        app.add_handler(CommandHandler("search", self._cmd_search, filters=posts))
        app.add_handler(CallbackQueryHandler(self._on_page, pattern=rf"^{SEARCH_PAGE}:"))

    async def _cmd_search(self, update: Update, context: Context) -> None:
        words = " ".join(context.args or [])
        if not words:
            raise ValidationError("Send /search and a few words, e.g. /search battery prices")
        page = await self._api.library.search(chat_sub(update), words)
        await tc.reply(update, telegram_page_html(page), keyboard=page_keyboard(page))

    async def _on_page(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        found = _PAGE_DATA.match((query.data or "")[len(SEARCH_PAGE) + 1:])
        if found is None:
            await query.answer("That button is not one of mine.", show_alert=True)
            return
        page = await self._api.library.page(chat_sub(update), found[1], int(found[2]))
        try:
            await query.edit_message_text(telegram_page_html(page), parse_mode=ParseMode.HTML,
                                          reply_markup=page_keyboard(page), link_preview_options=NO_PREVIEW)
        except BadRequest as exc:  # the same page again: Telegram refuses an edit that changes nothing
            if "not modified" not in str(exc).lower():
                raise
        await query.answer()

    async def export_insights(self, update: Update, context: Context) -> bool:
        """Answer `/export insights [since DATE]`; False when /export means the OPML of feeds."""
        args = [a.lower() for a in context.args or []]
        if not args or args[0] != "insights":
            return False
        since = _since(args[1:])
        message = update.effective_message
        assert message is not None
        for fmt, caption in CAPTIONS.items():
            files = await self._api.library.export(chat_sub(update), fmt, since=since, max_bytes=UPLOAD_LIMIT)
            for n, file in enumerate(files, start=1):
                part = f" (part {n} of {len(files)})" if len(files) > 1 else ""
                await tc.patiently(partial(message.reply_document,
                                           InputFile(file.data, filename=file.filename),
                                           caption=f"{caption}{part}."))
        return True


def _since(args: list[str]) -> str | None:
    if not args:
        return None
    if args[0] == "since":
        args = args[1:]
    if len(args) != 1:
        raise ValidationError(EXPORT_USAGE)
    return args[0]


def page_keyboard(page: SearchPage) -> InlineKeyboardMarkup | None:
    """◀ and ▶ under a search page, when there is more than one."""
    buttons = []
    if page.page > 0:
        buttons.append(InlineKeyboardButton(
            "◀ Previous", callback_data=callback_data(SEARCH_PAGE, f"{page.search_id}:{page.page - 1}")))
    if page.page + 1 < page.pages:
        buttons.append(InlineKeyboardButton(
            "Next ▶", callback_data=callback_data(SEARCH_PAGE, f"{page.search_id}:{page.page + 1}")))
    return InlineKeyboardMarkup([buttons]) if buttons else None
