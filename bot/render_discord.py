"""Pure Discord rendering: digest embeds, answers and replies within Discord's length limits.

Every piece of outside text (feed and episode titles, quotes, LLM output, questions) passes
through `md` here, so a transcript cannot add masked links or markup; pings are stopped
separately by AllowedMentions.none() on every send.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime

import discord

from bot.render import split_message
from bot.render_import import import_report
from core.cadence import describe
from core.errors import RateLimitedError
from core.models import Answer, DigestItem, Feed, Subscriber
from core.ports import ImportResult, SearchResult
from core.timeutil import format_timestamp

MESSAGE_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
CHOICE_LIMIT = 100  # autocomplete and select labels, thread names
INSIGHT_LIMIT = 1500
QUOTE_LIMIT = 400
COLOUR = discord.Colour(0xE8743B)

NEED_MANAGE_SERVER = "You need the Manage Server permission to change Castfive on this server."
SOMETHING_WENT_WRONG = "Something went wrong, it has been logged."
ONLY_ON_SERVERS = "That works in a server channel, not in direct messages."
DM_HINT = ("To ask about an insight, reply to it or press ❓ Ask under it. "
           "`/castfive today` shows today's five.")


def md(text: str) -> str:
    """Outside text made inert for Discord markdown (no bold, links, headings or code from it)."""
    return discord.utils.escape_markdown(text)


def shorten(text: str, limit: int) -> str:
    """Whitespace collapsed and cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a markdown link, or None: parentheses encoded so the link cannot end early."""
    if not url or len(url) > 1000 or not re.match(r"^https?://[^\s<>\"]+$", url, re.IGNORECASE):
        return None
    return url.replace("(", "%28").replace(")", "%29")


def discord_time(at: datetime, style: str = "R") -> str:
    """A <t:...> timestamp every member sees in their own zone and language (rounded up)."""
    return f"<t:{math.ceil(at.timestamp())}:{style}>"


# --- digest items -----------------------------------------------------------------------------


def item_header(item: DigestItem) -> str | None:
    """Message content above the first insight of a digest; None for the others."""
    return f"**☀️ Today's Castfive** · {item.total} insights" if item.position == 1 else None


def item_embed(item: DigestItem) -> discord.Embed:
    """One insight as an embed: show, episode (linked), insight, quote, the moment, id in the footer."""
    ins = item.insight
    description = f"💡 **{md(shorten(ins.text, INSIGHT_LIMIT))}**"
    if ins.quote.strip():
        description += f"\n> “{md(shorten(ins.quote, QUOTE_LIMIT))}”"
    embed = discord.Embed(title=shorten(item.episode_title or "Episode", TITLE_LIMIT),
                          url=safe_url(item.page_url), description=description, colour=COLOUR)
    embed.set_author(name=shorten(f"🎙 {item.show_title or 'Podcast'}", TITLE_LIMIT))
    stamp = format_timestamp(ins.start)
    moment = safe_url(item.moment_url)
    listen = f"`[{stamp}]` [▶️ Listen from here]({moment})" if moment else f"`[{stamp}]`"
    embed.add_field(name="Moment", value=listen, inline=True)
    if page := safe_url(item.page_url):
        embed.add_field(name="Episode", value=f"[Show notes]({page})", inline=True)
    embed.set_footer(text=f"{item.position}/{item.total} · id {ins.id[:64]} · ❓ Ask for a follow-up")
    return embed


# --- answers ------------------------------------------------------------------------------------


def answer_chunks(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """An answer as messages of at most `limit` characters, sources cited as [mm:ss]."""
    lines: list[str] = []
    if answer.show_title or answer.episode_title:
        about = " — ".join(t for t in (answer.show_title, answer.episode_title) if t)
        lines.append(f"🎙 *{md(shorten(about, 300))}*")
    lines += [md(p) for p in answer.text.strip().splitlines()]
    if not answer.grounded:
        lines += ["", "*The episode does not seem to cover this; treat the answer with care.*"]
    if answer.citations:
        lines += ["", "**Sources**"]
        lines += [f"**[{format_timestamp(c.start)}]** “{md(shorten(c.text, 600))}”" for c in answer.citations]
    return split_message("\n".join(lines), limit)


def question_echo(asker_mention: str, question: str) -> str:
    """The question as posted at the top of a thread (the modal itself is private)."""
    return shorten(f"❓ {asker_mention} asked: {md(question)}", MESSAGE_LIMIT)


def thread_name(question: str) -> str:
    """A thread named after the question that started it."""
    return shorten(f"💬 {question}", CHOICE_LIMIT)


def choice_label(item: DigestItem) -> str:
    """An autocomplete entry for an insight: its id, then its text."""
    return shorten(f"{item.insight.id} · {item.insight.text}", CHOICE_LIMIT)


def rate_limited_text(error: RateLimitedError) -> str:
    """The cooldown message, with when to try again in the member's own time."""
    at = error.retry_at
    return f"⏳ {error} Next question possible {discord_time(at)}, at {discord_time(at, 't')}."


# --- subscriptions ----------------------------------------------------------------------------------


def schedule_text(sub: Subscriber, next_at: datetime) -> str:
    """When the digest arrives."""
    if sub.paused:
        return (f"The digest is paused (normally {describe(sub)} at {sub.delivery_time}, "
                f"{md(sub.timezone)}).")
    return (f"The five arrive {describe(sub)} at **{sub.delivery_time}** ({md(sub.timezone)}); "
            f"next {discord_time(next_at, 'F')} ({discord_time(next_at)}).")


def subscribed_text(sub: Subscriber, where: str, next_at: datetime) -> str:
    """The reply to /castfive subscribe."""
    return (f"📬 Castfive will post the five best podcast insights of each day in {where}. "
            f"{schedule_text(sub, next_at)}\n`/castfive time` changes the time, or makes it "
            "weekdays only or weekly on a day (the best five of the week); `/castfive topics set` "
            "leans it towards your topics, e.g. ai, energy, startups.")


def unsubscribed_text(where: str) -> str:
    """The reply to /castfive unsubscribe."""
    return f"🔕 No more daily insights in {where}. `/castfive subscribe` brings them back."


# --- feeds --------------------------------------------------------------------------------------------


NO_PODCASTS = "No podcasts yet: add one with `/castfive feeds add` and a feed URL or a name."


def feeds_text(feeds: Sequence[Feed], limit: int = MESSAGE_LIMIT) -> str:
    """The podcasts followed, numbered, cut to fit one message."""
    if not feeds:
        return NO_PODCASTS
    lines = [f"**Podcasts followed here ({len(feeds)})**"]
    for n, feed in enumerate(feeds, 1):
        line = f"{n}. {md(shorten(feed.title or feed.id, 120))} · `{feed.id}`"
        if sum(len(x) + 1 for x in lines) + len(line) > limit - 40:
            lines.append(f"… and {len(feeds) - n + 1} more")
            break
        lines.append(line)
    return "\n".join(lines)


def added_text(feed: Feed) -> str:
    """Confirmation of an added podcast."""
    return f"➕ Added **{md(shorten(feed.title or feed.id, 200))}**: its new episodes will feed the digest."


def candidates_text(terms: str, candidates: Sequence[SearchResult]) -> str:
    """Search results, asking to pick one."""
    if not candidates:
        return f"No podcasts found for “{md(shorten(terms, 100))}”. Try other words or the feed URL."
    return f"Podcasts matching “{md(shorten(terms, 100))}”: pick one to add it."


def candidate_label(candidate: SearchResult) -> str:
    """A select-menu label for a search result."""
    label = f"{candidate.title} — {candidate.author}" if candidate.author else candidate.title
    return shorten(label, CHOICE_LIMIT)


def import_text(result: ImportResult, limit: int = MESSAGE_LIMIT) -> str:
    """What an OPML import did, in one message."""
    return import_report(result, limit, bold=lambda text: f"**{text}**", escape=md)
