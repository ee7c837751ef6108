"""What Telegram handlers share: ids for chats and people, replying, admin checks, answering.

Handlers only parse the update, call the service, render and reply; these helpers are the
replying and checking half, so every handler stays a few lines long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from telegram import Chat, ForceReply, InlineKeyboardMarkup, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot import render_telegram as rt
from bot.render_sharing import format_wait, minutes_ago, today_pointer
from bot.telegram_delivery import NO_PREVIEW, retry_seconds
from core.chat_cooldown import PostedRecentlyError
from core.errors import CastfiveError, PermissionDeniedError, RateLimitedError
from core.ports import CastfiveApi, Clock, MessageRef

log = logging.getLogger(__name__)
# Someone is waiting for a reply: on a 429 it is sent again after the wait Telegram names, this
# often. (Digests are not retried here: their 429 goes back to the core's token bucket.)
INTERACTIVE_RETRIES = 2


async def patiently(send: Callable[[], Awaitable[Message]]) -> Message:
    """Run a reply, waiting out Telegram's flood control up to INTERACTIVE_RETRIES times."""
    for attempt in range(INTERACTIVE_RETRIES + 1):
        try:
            return await send()
        except RetryAfter as exc:
            if attempt == INTERACTIVE_RETRIES:
                raise
            await asyncio.sleep(retry_seconds(exc) + 0.1)
    raise AssertionError("unreachable")

Context = ContextTypes.DEFAULT_TYPE
RESERVED_USER_IDS = frozenset({1087968824, 777000})  # GroupAnonymousBot, Telegram service
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


def sub_id_for(chat_id: int | str) -> str:
    """The subscriber id of a Telegram chat."""
    return f"telegram:{chat_id}"


def conversation_id(chat_id: int, message_id: int) -> str:
    """The conversation started by message `message_id` in chat `chat_id`."""
    return f"telegram:{chat_id}:{message_id}"


def chat_sub(update: Update) -> str:
    """The subscriber id of the update's chat."""
    assert update.effective_chat is not None
    return sub_id_for(update.effective_chat.id)


def in_private_chat(update: Update) -> bool:
    """Whether the update comes from a one-to-one chat with a person (not a group or channel)."""
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def message_link(chat: Chat, message_id: int) -> str | None:
    """A t.me link to a message: by username where the chat has one, by id in a private
    supergroup or channel; None in a basic group, where Telegram has no message links."""
    if chat.username:
        return f"https://t.me/{chat.username}/{message_id}"
    if str(chat.id).startswith("-100"):
        return f"https://t.me/c/{str(chat.id)[4:]}/{message_id}"
    return None


async def point_at_post(update: Update, hit: PostedRecentlyError, clock: Clock) -> Message:
    """One line for a /today that came too soon: a reply to the last post, with its link."""
    message = update.effective_message
    assert message is not None
    first = int(hit.message_id) if hit.message_id else None
    link = message_link(message.chat, first) if first else None
    # a reply to the post itself: tapping the quote jumps there, even where no link exists
    target = ReplyParameters(first, allow_sending_without_reply=True) if first else None
    now = clock.now()
    wait = format_wait((hit.retry_at - now).total_seconds())
    text = today_pointer(link, minutes_ago(hit.posted_at, now), wait)
    return await patiently(lambda: message.get_bot().send_message(
        message.chat_id, text, reply_parameters=target, link_preview_options=NO_PREVIEW))


def user_key(update: Update) -> str:
    """Who is asking, for the per-user question limit (the chat when the sender is anonymous)."""
    user = update.effective_user
    if user and user.id not in RESERVED_USER_IDS:
        return f"telegram:{user.id}"
    return f"telegram:chat{update.effective_chat.id if update.effective_chat else 0}"


async def reply(update: Update, html: str, *, keyboard: InlineKeyboardMarkup | None = None,
                quote: bool | None = None, plain: str | None = None) -> Message:
    """Reply in HTML; if Telegram cannot parse it, the same words go out as plain text."""
    message = update.effective_message
    assert message is not None
    try:
        return await patiently(lambda: message.reply_text(
            html, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=NO_PREVIEW,
            do_quote=quote))
    except BadRequest as exc:
        if "can't parse entities" not in str(exc).lower():
            raise
        log.warning("chat %s refused our HTML (%s); replying in plain text", message.chat_id, exc)
        return await patiently(lambda: message.reply_text(
            plain or rt.html_to_plain(html), reply_markup=keyboard, link_preview_options=NO_PREVIEW,
            do_quote=quote))


async def is_admin(update: Update, context: Context) -> bool:
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


async def require_admin(update: Update, context: Context) -> None:
    """Raise PermissionDeniedError unless the sender may change this chat's settings."""
    if not await is_admin(update, context):
        raise PermissionDeniedError("Only this chat's admins can change its Castfive settings.")


async def answer(api: CastfiveApi, update: Update, insight_id: str, question: str,
                 conversation: str) -> None:
    """Ask the service, reply with the answer, remember it so a reply continues the talk."""
    message = update.effective_message
    assert message is not None
    with contextlib.suppress(TelegramError):
        await message.chat.send_action(ChatAction.TYPING)
    found = await api.ask(insight_id, question, user_key=user_key(update), conversation_id=conversation,
                          reader=chat_sub(update))
    for n, chunk in enumerate(rt.render_answer_html(found)):
        sent = await reply(update, chunk, quote=n == 0)
        await api.remember_message(chat_sub(update), str(sent.message_id),
                                   MessageRef(insight_id, conversation))


async def prompt_question(api: CastfiveApi, update: Update, message: Message, insight_id: str) -> None:
    """Reply to `message` asking for the question (ForceReply) and remember the prompt."""
    item = await api.insight_item(insight_id, reader=sub_id_for(message.chat.id), user_key=user_key(update))
    user = update.effective_user
    in_group = message.chat.type != ChatType.PRIVATE
    named = user if user and user.id not in RESERVED_USER_IDS and in_group else None
    text = rt.render_ask_prompt_html(item, named.id if named else None, named.first_name if named else "")
    sent = await message.reply_text(
        text, parse_mode=ParseMode.HTML, do_quote=True, link_preview_options=NO_PREVIEW,
        reply_markup=ForceReply(selective=True, input_field_placeholder="Your question"))
    await api.remember_message(chat_sub(update), str(sent.message_id), MessageRef(
        insight_id, conversation_id(sent.chat_id, sent.message_id)))


def error_text(error: BaseException | None, chat_id: int | str, clock: Clock) -> str:
    """The words for a failed update: a CastfiveError's own sentence, else a generic apology."""
    if isinstance(error, CastfiveError):
        text = str(error)
        if isinstance(error, RateLimitedError):  # our words: the wait counted on our clock
            wait = (error.retry_at - clock.now()).total_seconds()
            text = f"You have asked a lot of questions lately. You can ask again {format_wait(wait)}."
        log.info("telegram chat %s: %s", chat_id, type(error).__name__)
        return text
    log.error("telegram update in chat %s failed", chat_id, exc_info=error)
    return "Sorry, something went wrong on my side. Please try again in a little while."


async def tell(update: Update, text: str) -> None:
    """Say `text` where the update came from: an alert for a button, else a reply."""
    with contextlib.suppress(TelegramError):
        if update.callback_query:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_text(text, link_preview_options=NO_PREVIEW)
