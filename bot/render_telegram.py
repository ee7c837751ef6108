"""Pure Telegram rendering: digest items, answers and lists as HTML (with plain fallbacks) and buttons.

Every piece of outside text (feed titles, episode titles, LLM output, quotes, user input) goes
through `html.escape` here and nowhere else, so handlers never build markup by hand.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render import split_message
from bot.render_import import import_report
from core.cadence import describe
from core.models import Answer, DigestItem, Feed, Subscriber
from core.ports import ImportResult, SearchResult
from core.timeutil import format_timestamp

MESSAGE_LIMIT = 4096  # Telegram's cap on one message's text
CHUNK_LIMIT = 4000  # headroom: Telegram counts UTF-16 units, we count code points
CAPTION_LIMIT = 1000  # a document's caption: Telegram allows 1024
CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts
QUOTE_LIMIT = 400  # a digest shows the evidence, not a transcript dump
BUTTON_TITLE_LIMIT = 48

# Every button's action prefix, in one place so that no two collide.
ASK, UPVOTE, DOWNVOTE, REMOVE_FEED, PICK_CHOICE, SEARCH_PAGE = "a", "u", "d", "r", "p", "s"


def esc(text: str) -> str:
    """Outside text made safe for Telegram HTML (text content, not attributes)."""
    return html.escape(text, quote=False)


def callback_data(action: str, ident: str) -> str:
    """'<action>:<id>' for a button; raises ValueError past Telegram's 64-byte cap."""
    data = f"{action}:{ident}"
    if len(data.encode("utf-8")) > CALLBACK_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_LIMIT} bytes: {data[:20]!r}...")
    return data


def parse_callback(data: str | None) -> tuple[str, str]:
    """'<action>:<id>' -> (action, id); ('', '') for anything else."""
    action, sep, ident = (data or "").partition(":")
    return (action, ident) if sep and ident else ("", "")


def _safe_url(url: str | None) -> str | None:
    """Only http(s) links reach Telegram: anything else is dropped, not linked."""
    if url and re.match(r"^https?://[^\s<>\"]+$", url, re.IGNORECASE):
        return url
    return None


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_local_date(iso_date: str) -> str:
    """'2026-11-28' -> 'Sat 28 Nov'; anything unparsable is shown as given."""
    try:
        day = date.fromisoformat(iso_date)
    except ValueError:
        return iso_date
    return f"{day:%a} {day.day} {day:%b}"


# --- digest items -----------------------------------------------------------------


def render_item_html(item: DigestItem, local_date: str | None = None) -> str:
    """One digest insight as Telegram HTML: header on the first, insight, quote, show, links, id."""
    ins = item.insight
    lines: list[str] = []
    if item.position == 1 and local_date:
        lines += [(f"<b>Your Castfive for {esc(format_local_date(local_date))} · "
                   f"{item.position}/{item.total}</b>"), ""]
    else:
        lines.append(f"<b>{item.position}/{item.total}</b>")
    lines.append(f"💡 {esc(ins.text)}")
    if ins.quote.strip():
        lines.append(f"<blockquote>“{esc(_shorten(ins.quote, QUOTE_LIMIT))}”</blockquote>")
    lines.append(f"🎙 <b>{esc(item.show_title)}</b> — {esc(item.episode_title)}")
    links = []
    stamp = format_timestamp(ins.start)
    if moment := _safe_url(item.moment_url):
        links.append(f'▶️ <a href="{html.escape(moment)}">Listen from {stamp}</a>')
    else:
        links.append(f"▶️ at {stamp}")
    if page := _safe_url(item.page_url):
        links.append(f'<a href="{html.escape(page)}">Episode page</a>')
    lines.append(" · ".join(links))
    lines.append(f"🆔 <code>{esc(ins.id)}</code> · reply to this message to ask about it")
    return "\n".join(lines)


def render_item_plain(item: DigestItem, local_date: str | None = None) -> str:
    """The same digest insight as plain text, links written out."""
    ins = item.insight
    lines: list[str] = []
    if item.position == 1 and local_date:
        lines += [(f"Your Castfive for {format_local_date(local_date)} · "
                   f"{item.position}/{item.total}"), ""]
    else:
        lines.append(f"{item.position}/{item.total}")
    lines.append(f"💡 {ins.text}")
    if ins.quote.strip():
        lines.append(f"“{_shorten(ins.quote, QUOTE_LIMIT)}”")
    lines.append(f"🎙 {item.show_title} — {item.episode_title}")
    stamp = format_timestamp(ins.start)
    moment = _safe_url(item.moment_url)
    lines.append(f"▶️ Listen from {stamp}: {moment}" if moment else f"▶️ at {stamp}")
    if page := _safe_url(item.page_url):
        lines.append(f"Episode page: {page}")
    lines.append(f"🆔 {ins.id} · reply to this message to ask about it")
    return "\n".join(lines)


def item_keyboard(insight_id: str) -> InlineKeyboardMarkup:
    """Ask, 👍 and 👎 under a digest insight."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("❓ Ask", callback_data=callback_data(ASK, insight_id)),
        InlineKeyboardButton("👍", callback_data=callback_data(UPVOTE, insight_id)),
        InlineKeyboardButton("👎", callback_data=callback_data(DOWNVOTE, insight_id)),
    ]])


# --- answers ------------------------------------------------------------------------


def _wrap_escaped(text: str, width: int) -> list[str]:
    """Escape one paragraph, wrapped on spaces so no escaped line exceeds `width`."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        piece = esc(word)
        while len(piece) > width:  # a monster "word": cut it, never inside an entity
            cut = width
            amp = piece.rfind("&", 0, cut)
            if amp > 0 and ";" not in piece[amp:cut]:
                cut = amp  # the entity starting here would be split: cut before it
            if current:
                lines.append(current)
                current = ""
            lines.append(piece[:cut])
            piece = piece[cut:]
        candidate = f"{current} {piece}" if current else piece
        if len(candidate) > width and current:
            lines.append(current)
            candidate = piece
        current = candidate
    if current:
        lines.append(current)
    return lines


def render_answer_html(answer: Answer, limit: int = CHUNK_LIMIT) -> list[str]:
    """An answer as HTML chunks under `limit`, each tag closed on its own line, with [mm:ss] sources."""
    width = limit - 100  # room for the tags a line may carry
    lines: list[str] = []
    if answer.show_title or answer.episode_title:
        about = " — ".join(t for t in (answer.show_title, answer.episode_title) if t)
        lines.append(f"🎙 <i>{esc(_shorten(about, 300))}</i>")
    for paragraph in answer.text.strip().splitlines():
        lines += _wrap_escaped(paragraph, width) if paragraph.strip() else [""]
    if not answer.grounded:
        lines += ["", "<i>The episode does not seem to cover this; treat the answer with care.</i>"]
    if answer.citations:
        lines += ["", "<b>Sources</b>"]
        for cite in answer.citations:
            stamp = f"<b>[{format_timestamp(cite.start)}]</b> "
            wrapped = _wrap_escaped(f"“{_shorten(cite.text, 600)}”", width)
            lines += [stamp + wrapped[0], *wrapped[1:]]
    return split_message("\n".join(lines), limit)


def html_to_plain(markup: str) -> str:
    """Our own HTML back to plain text: drop tags, unescape entities (outside text is escaped)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


# --- feeds, search, import ------------------------------------------------------------


NO_PODCASTS = "You follow no podcasts yet. Add one with /add followed by a feed URL or a name."


def render_feeds_html(feeds: Sequence[Feed]) -> str:
    """The chat's podcasts, numbered."""
    if not feeds:
        return NO_PODCASTS
    lines = [f"<b>Your podcasts ({len(feeds)})</b>"]
    lines += [f"{n}. {esc(f.title or f.id)}" for n, f in enumerate(feeds, 1)]
    lines += ["", "Tap a button to stop following a podcast."]
    return "\n".join(lines)


def feeds_keyboard(feeds: Sequence[Feed]) -> InlineKeyboardMarkup | None:
    """One remove button per feed."""
    rows = [[InlineKeyboardButton(f"✖ {_shorten(f.title or f.id, BUTTON_TITLE_LIMIT)}",
                                  callback_data=callback_data(REMOVE_FEED, f.id))] for f in feeds]
    return InlineKeyboardMarkup(rows) if rows else None


def render_candidates_html(terms: str, candidates: Sequence[SearchResult]) -> str:
    """Search results, asking the user to pick one."""
    if not candidates:
        return f"No podcasts found for “{esc(terms)}”. Try other words or send the feed URL."
    return f"Podcasts matching “{esc(terms)}”: tap one to add it."


def candidates_keyboard(candidates: Sequence[SearchResult]) -> InlineKeyboardMarkup | None:
    """One button per search result."""
    rows = []
    for c in candidates:
        label = f"{c.title} — {c.author}" if c.author else c.title
        rows.append([InlineKeyboardButton(_shorten(label, BUTTON_TITLE_LIMIT),
                                          callback_data=callback_data(PICK_CHOICE, c.id))])
    return InlineKeyboardMarkup(rows) if rows else None


def render_added_html(feed: Feed) -> str:
    """Confirmation of an added podcast."""
    return f"Added <b>{esc(feed.title or feed.url)}</b>. Its new episodes will show up in your digest."


def render_import_html(result: ImportResult, limit: int = CHUNK_LIMIT) -> str:
    """What an OPML import did, in one message (`limit`: CAPTION_LIMIT when a file goes with it)."""
    return import_report(result, limit, bold=lambda text: f"<b>{text}</b>", escape=esc)


# --- conversation texts -----------------------------------------------------------------

HELP_HTML = """<b>Castfive</b> listens to new podcast episodes and sends you the five best insights \
every day (or on weekdays, or once a week), each with a link to the exact moment.

/today: today's five insights now
/feeds: the podcasts you follow
/add URL or words: follow a podcast (feed URL, or search by name)
/remove: stop following a podcast
/import: send an OPML file with this caption (or reply /import to it)
/export: your podcasts as an OPML file
/search words: find an insight you were sent, or a moment of your shows, again
/export insights [since YYYY-MM-DD]: your insights as Markdown (Obsidian) and CSV (Readwise)
/time HH:MM [Zone/Name] [daily|weekdays|weekly DAY]: when your digest arrives, e.g. \
/time 07:30 Europe/Berlin weekdays, or /time weekly mon 08:00 for the best five of the week
/topics ai, energy, startups: lean the digest towards your topics (/topics shows them, \
/topics clear drops them)
/pause, /resume: hold or restart the digest
/ask ID question: ask about an insight (or just reply to it)
/stop: unsubscribe this chat

In groups, only admins can change settings; everyone can read and ask."""

GREETING_HTML = ("👋 Hi! I'm Castfive: every day I send the five best insights from new podcast "
                 "episodes. An admin can send /start to get a daily digest in this chat.")

CHATTER_HTML = ("To ask about an insight, reply to it (or tap ❓ Ask under it). "
                "Try /today for today's five, or /help for everything I can do.")


def _when(at: datetime) -> str:
    return f"{at:%a} {at.day} {at:%b} at {at:%H:%M}"


def render_schedule_html(sub: Subscriber, next_at: datetime) -> str:
    """When the digest arrives, and whether it is paused."""
    if sub.paused:
        return (f"Your digest is <b>paused</b> (normally {describe(sub)} at {esc(sub.delivery_time)}, "
                f"{esc(sub.timezone)}). Send /resume to restart it.")
    return (f"Your digest arrives {describe(sub)} at <b>{esc(sub.delivery_time)}</b> "
            f"({esc(sub.timezone)}). "
            f"Next one: {esc(_when(next_at))}.")


def render_welcome_html(sub: Subscriber, next_at: datetime) -> str:
    """The /start reply: what Castfive does and when the next digest comes."""
    return ("👋 <b>Welcome to Castfive!</b>\n\nEvery day I listen to new podcast episodes and send "
            "you the five best insights, each with a link to the exact moment. Reply to any "
            "insight to ask a follow-up question; the answer cites the transcript.\n\n"
            f"{render_schedule_html(sub, next_at)}\n\n"
            "Change it with /time 07:30 Europe/Berlin, /time 07:30 weekdays or /time weekly mon "
            "08:00 (the best five of the week); /topics ai, energy leans it towards your topics; "
            "/help lists everything.")


def render_ask_prompt_html(item: DigestItem, user_id: int | None, user_name: str) -> str:
    """The ForceReply prompt after ❓ Ask; mentions the asker so only they get the reply field."""
    who = f'<a href="tg://user?id={user_id}">{esc(user_name)}</a>, w' if user_id else "W"
    return (f"{who}hat would you like to know about “{esc(_shorten(item.insight.text, 200))}”? "
            "Reply to this message with your question.")


def render_recent_html(items: Sequence[DigestItem]) -> str:
    """/ask without arguments: how to ask, and the ids of recent insights."""
    lines = ["Reply to an insight with your question, or send <code>/ask ID question</code>."]
    if items:
        lines += ["", "<b>Recent insights</b>"]
        lines += [f"<code>{esc(i.insight.id)}</code> {esc(_shorten(i.insight.text, 90))}"
                  for i in items[:10]]
    return "\n".join(lines)
