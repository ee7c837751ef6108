"""Short, stable identifiers: derived from content, so a restart or re-run yields the same id."""

from __future__ import annotations

import base64
import hashlib

_ALPHABET = str.maketrans("", "", "=")


def short_hash(*parts: str, length: int = 8) -> str:
    """A lowercase base32 digest of the parts, `length` characters long."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower().translate(_ALPHABET)[:length]


def feed_id_for(url: str) -> str:
    """The id of a feed first added with `url`."""
    return "f" + short_hash("feed", url.strip(), length=7)


def episode_id_for(feed_id: str, identity: str) -> str:
    """The id of an episode, from its feed and identity key."""
    return "e" + short_hash(feed_id, identity, length=9)


def insight_id_for(episode_id: str, start: float, quote: str) -> str:
    """The id of an insight: short enough to type after /ask and to fit callback data."""
    return short_hash(episode_id, f"{start:.1f}", quote.strip().lower(), length=7)
