"""What a shared chat is told, the same on every platform: the /today pointer and the export note."""

from __future__ import annotations

import math
from datetime import datetime

EXPORT_CAPTION = "Your podcasts as OPML: import them into any podcast app."


def today_pointer(link: str | None, posted: str, again: str, command: str = "/today") -> str:
    """One line for a /today that came too soon after the last: where the five are, and when again.

    `posted` and `again` are the platform's words for the two times ('12 minutes ago', 'in 48
    minutes', or Discord's self-updating timestamps).
    """
    where = f"here {posted}: {link}" if link else f"just above, {posted}"
    return f"📌 Today's five were posted {where}. {command} works here again {again}."


def minutes_ago(at: datetime, now: datetime) -> str:
    """'less than a minute ago', '1 minute ago', '12 minutes ago'."""
    minutes = math.floor(max(0.0, (now - at).total_seconds()) / 60)
    if minutes == 0:
        return "less than a minute ago"
    return "1 minute ago" if minutes == 1 else f"{minutes} minutes ago"


def format_wait(seconds: float) -> str:
    """A wait as words: 'in a minute', 'in 12 minutes', 'in about 2 hours' (rounded up: never
    earlier than it is)."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes == 1:
        return "in a minute"
    if minutes < 90:
        return f"in {minutes} minutes"
    return f"in about {round(minutes / 60)} hours"


def export_caption(hidden: int) -> str:
    """The export's caption; says when private feed addresses had their secret replaced."""
    if not hidden:
        return EXPORT_CAPTION
    feeds = "1 private feed address has its" if hidden == 1 else \
        f"{hidden} private feed addresses have their"
    return (f"{EXPORT_CAPTION} {feeds} secret part replaced with *** here: private addresses "
            "are exported whole only in a private chat with the person who added them.")
