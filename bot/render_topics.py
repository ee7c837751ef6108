"""Pure texts for a chat's topics, in Telegram HTML and Discord markdown."""

from __future__ import annotations

import html

from core.models import Subscriber

EXAMPLE = "ai, energy, startups"


def topics_html(sub: Subscriber) -> str:
    """The /topics reply on Telegram: the topics, or how to set some."""
    if not sub.topics:
        return (f"No topics yet: your digest is simply the best of the day. Send <code>/topics "
                f"{EXAMPLE}</code> to lean it towards what you care about (at most 10).")
    listed = ", ".join(f"<b>{html.escape(t)}</b>" for t in sub.topics)
    return (f"Your topics: {listed}. Insights close to them come first; filler never does. "
            "Send /topics clear to drop them.")


def topics_md(sub: Subscriber) -> str:
    """The `/castfive topics` reply on Discord."""
    if not sub.topics:
        return (f"No topics yet: the digest is simply the best of the day. `/castfive topics set "
                f"{EXAMPLE}` leans it towards what you care about (at most 10).")
    listed = ", ".join(f"**{_md(t)}**" for t in sub.topics)
    return (f"Topics here: {listed}. Insights close to them come first; filler never does. "
            "`/castfive topics clear` drops them.")


def _md(text: str) -> str:
    return "".join(f"\\{c}" if c in "\\*_~`|>#[]()" else c for c in text)
