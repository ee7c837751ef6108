"""OPML export: a private feed's secret leaves only in a private chat with the person who added it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.feeds.opml import build_opml
from core.models import Feed
from core.netguard import mask_path_tokens

HIDDEN = "***"  # what a secret reads as in a shared export


@dataclass(frozen=True)
class OpmlExport:
    """An OPML document and how many feed addresses in it had their secret replaced."""

    data: bytes
    hidden: int = 0


def export_feeds(feeds: Sequence[Feed], *, private_chat: bool) -> OpmlExport:
    """The feeds as OPML; outside a private chat every secret in an address is replaced.

    In a private chat the subscriber is one person, and a feed is only followed by its address
    (sent, imported or picked): whoever follows a private feed there added it and knows it.
    """
    secret = [f for f in feeds if carries_secret(f)]
    if private_chat or not secret:
        return OpmlExport(build_opml(feeds))
    shown = [dataclasses.replace(f, url=_without_secret(f)) if f in secret else f for f in feeds]
    return OpmlExport(build_opml(shown), len(secret))


def carries_secret(feed: Feed) -> bool:
    """Marked private, or the address holds credentials, a query or a token-like path segment."""
    return feed.private or shareable_url(feed.url) != feed.url


def _without_secret(feed: Feed) -> str:
    shown = shareable_url(feed.url)
    if shown == feed.url:  # marked private by the operator, with nothing we can point at
        parts = urlsplit(feed.url)
        return urlunsplit((parts.scheme, parts.hostname or "", f"/{HIDDEN}", "", ""))
    return shown


def shareable_url(url: str) -> str:
    """The address without its secrets: no user or password, query values and token-like path
    segments (UUIDs, long hex, base64-ish runs) shown as ***."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return HIDDEN
    if not (parts.username or parts.password or parts.query):
        return mask_path_tokens(url)  # as written: only a token in the path can be a secret
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    query = urlencode([(k, HIDDEN) for k, _ in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    bare = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return mask_path_tokens(bare)
