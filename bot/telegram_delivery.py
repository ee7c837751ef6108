"""The ChatPort side of Telegram: digest items and notices out, Telegram's answer as a SendOutcome.

HTML goes first; if Telegram cannot parse it, the same words go out as plain text with the same
buttons. Every Bot API failure is mapped to an OutcomeKind the core's DeliveryService acts on.
"""

from __future__ import annotations

import logging
import warnings
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot import render_telegram as rt
from core.models import DigestItem, OutcomeKind, SendOutcome, Subscriber
from core.timeutil import parse_zone

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Telegram says these when the chat is gone for good or we may no longer write to it.
_GONE_HINTS = ("chat not found", "not enough rights", "have no rights", "chat_write_forbidden",
               "need administrator rights", "bot was kicked", "user is deactivated")


def is_gone(exc: TelegramError) -> bool:
    """Whether a Bot API error means the chat is gone or closed to us for good."""
    return any(hint in str(exc).lower() for hint in _GONE_HINTS)


def retry_seconds(exc: RetryAfter) -> float:
    """A flood wait in seconds, whether PTB gives it as an int or a timedelta."""
    with warnings.catch_warnings():  # PTB warns about int vs timedelta; we accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def outcome_of(exc: TelegramError, chat_id: int | str = "-") -> SendOutcome:
    """What a failed send means for delivery: gone, moved, rate limited or worth retrying."""
    if isinstance(exc, Forbidden):
        return SendOutcome(OutcomeKind.GONE, reason=str(exc))
    if isinstance(exc, ChatMigrated):
        return SendOutcome(OutcomeKind.MOVED, new_chat_id=str(exc.new_chat_id), reason=str(exc))
    if isinstance(exc, RetryAfter):
        return SendOutcome(OutcomeKind.RATE_LIMITED, retry_after=retry_seconds(exc), reason=str(exc))
    if isinstance(exc, BadRequest):  # before NetworkError: PTB derives BadRequest from it
        log.warning("telegram send to chat %s failed: %s", chat_id, exc)
        return SendOutcome(OutcomeKind.GONE if is_gone(exc) else OutcomeKind.TRANSIENT, reason=str(exc))
    return SendOutcome(OutcomeKind.TRANSIENT, reason=str(exc))  # NetworkError, TimedOut, others


def local_date(subscriber: Subscriber, now: datetime) -> str:
    """The subscriber's local date (ISO) at `now`; UTC when the stored zone is unreadable."""
    try:
        zone = parse_zone(subscriber.timezone)
    except ValueError:
        zone = parse_zone("UTC")
    return now.astimezone(zone).date().isoformat()


async def send_digest_item(bot: Bot, subscriber: Subscriber, item: DigestItem,
                           now: datetime) -> SendOutcome:
    """Send one insight with its buttons; the header with the local date goes on the first."""
    day = local_date(subscriber, now) if item.position == 1 else None
    return await deliver(bot, subscriber.chat_id, rt.render_item_html(item, day),
                         rt.render_item_plain(item, day), rt.item_keyboard(item.insight.id))


async def send_notice(bot: Bot, subscriber: Subscriber, text: str) -> SendOutcome:
    """Send a plain-text note."""
    return await deliver(bot, subscriber.chat_id, None, text, None)


async def deliver(bot: Bot, chat: str, html: str | None, plain: str,
                  keyboard: InlineKeyboardMarkup | None) -> SendOutcome:
    """Send `html` (or `plain` when Telegram refuses the markup, or when there is no HTML)."""
    chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
    try:
        if html is not None:
            try:
                sent = await bot.send_message(chat_id, html, parse_mode=ParseMode.HTML,
                                              reply_markup=keyboard, link_preview_options=NO_PREVIEW)
                return SendOutcome.delivered(str(sent.message_id))
            except BadRequest as exc:
                if is_gone(exc):
                    raise
                log.warning("telegram chat %s refused the HTML (%s); resending as plain text",
                            chat_id, exc)
        sent = await bot.send_message(chat_id, plain, reply_markup=keyboard,
                                      link_preview_options=NO_PREVIEW)
        return SendOutcome.delivered(str(sent.message_id))
    except TelegramError as exc:
        return outcome_of(exc, chat_id)
