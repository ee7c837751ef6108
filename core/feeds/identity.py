"""Which feed items are the same episode: stable identity keys that survive real-world feeds.

The key is the publisher's guid; without one, the enclosure URL minus its query and fragment
(tracking and token parameters rotate); without that, the title and date. Guids are not always
unique (some CMSs give every item the guid `1`), so an item whose guid is already taken by a
clearly different episode gets a longer key, decided against what is already stored so the
key of an episode never changes between polls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from core.ids import episode_id_for
from core.models import ParsedEpisode

_SEPARATOR = "\x1f"  # cannot occur in a guid, URL or title we keep


class EpisodeLike(Protocol):
    """What telling two episodes apart needs; Episode and ParsedEpisode both have it."""

    @property
    def title(self) -> str: ...
    @property
    def audio_url(self) -> str | None: ...
    @property
    def published_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Fingerprint:
    """A stored episode reduced to what `same_episode` compares."""

    title: str
    audio_url: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, ep: EpisodeLike) -> Fingerprint:
        """The fingerprint of an episode."""
        return cls(ep.title, ep.audio_url, ep.published_at)


def enclosure_key(url: str | None) -> str | None:
    """The enclosure URL without query string and fragment, scheme and host lowercased."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not (parts.netloc or parts.path):
        return None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def episode_identity(ep: ParsedEpisode) -> str:
    """The episode's base identity: guid, else enclosure URL without query, else title and date."""
    guid = (ep.guid or "").strip()
    if guid:
        return guid
    key = enclosure_key(ep.audio_url)
    if key:
        return key
    title = " ".join(ep.title.split())
    date = ep.published_at.isoformat() if ep.published_at else ""
    if ep.published_at and title == ep.published_at.date().isoformat():
        title = ""  # the parser's stand-in for an untitled item: keep the key it always had
    if title or date:
        return f"{title}{_SEPARATOR}{date}"
    digest = hashlib.sha256(ep.description.encode("utf-8")).hexdigest()[:20]
    return f"text{_SEPARATOR}{digest}"


def same_episode(a: EpisodeLike, b: EpisodeLike) -> bool:
    """Whether two items sharing an identity describe one episode (a repeat, or an edit).

    Edits are common (a retitled episode, an enclosure moved to a new CDN), so only items that
    differ in title AND in enclosure (or date, when an enclosure is missing) count as different.
    """
    title_a, title_b = _norm_title(a.title), _norm_title(b.title)
    if not title_a or not title_b or title_a == title_b:
        return True
    key_a, key_b = enclosure_key(a.audio_url), enclosure_key(b.audio_url)
    if key_a and key_b:
        return key_a == key_b
    if a.published_at and b.published_at:
        return a.published_at == b.published_at
    return False


def assign_identities(
    episodes: Iterable[ParsedEpisode], known: Mapping[str, EpisodeLike] | None = None
) -> list[tuple[str, ParsedEpisode]]:
    """(identity, episode) for each distinct episode, first occurrence kept, repeats dropped.

    `known` maps identities already stored to their episodes, so an item reusing a stored
    episode's guid for different content gets its own key, and the stored one keeps its key.
    """
    stored = known or {}
    seen: dict[str, ParsedEpisode] = {}
    result: list[tuple[str, ParsedEpisode]] = []
    for ep in episodes:
        identity = episode_identity(ep)
        prior = seen.get(identity) or stored.get(identity)
        if prior is not None and not same_episode(prior, ep):
            identity = _disambiguated(identity, ep)
        if identity in seen:
            continue  # the same episode listed twice
        seen[identity] = ep
        result.append((identity, ep))
    return result


def unique_episodes(episodes: Iterable[ParsedEpisode]) -> list[ParsedEpisode]:
    """The episodes with repeats of one episode removed, order kept."""
    return [ep for _, ep in assign_identities(episodes)]


def episode_id(feed_id: str, identity: str) -> str:
    """The stored id of an episode of a feed."""
    return episode_id_for(feed_id, identity)


def _disambiguated(identity: str, ep: ParsedEpisode) -> str:
    detail = enclosure_key(ep.audio_url) or _norm_title(ep.title)
    return f"{identity}{_SEPARATOR}{detail}"


def _norm_title(title: str) -> str:
    return " ".join(title.split()).casefold()
