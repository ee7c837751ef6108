"""Getting a feed's bytes: a conditional GET through the Fetcher, or an operator's local file."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from core.errors import HttpStatusError
from core.feeds.local import is_web_url, local_path, read_local_feed
from core.feeds.timing import header, parse_retry_after
from core.models import Feed
from core.netguard import has_credentials
from core.ports import Fetcher

EMPTY = 204  # what an answer without content is reported as, whatever its real status


@dataclass(frozen=True)
class Fetched:
    """A feed answer reduced to what polling needs."""

    status: int  # 200 (body set), 304, EMPTY, or the failing status
    body: bytes | None = None
    base_url: str | None = None  # where relative URLs in the body resolve
    digest: str | None = None  # sha256 of the body
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None
    retry_after: timedelta | None = None


def is_local(feed: Feed) -> bool:
    """An operator's feed read from a file on this machine."""
    return feed.origin == "operator" and not is_web_url(feed.url)


async def fetch_feed(
    fetcher: Fetcher, feed: Feed, max_bytes: int, *, conditional: bool, now: datetime
) -> Fetched:
    """The feed's current answer; raises FetchError when nothing came back at all."""
    if is_local(feed):
        path = local_path(feed.url)
        body = await asyncio.to_thread(read_local_feed, path, max_bytes)
        return _with_body(200, body, path.as_uri())
    headers: dict[str, str] = {}
    if conditional:
        # Sent back byte for byte: servers compare them as opaque strings.
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
    try:
        result = await fetcher.get(feed.url, headers=headers or None, max_bytes=max_bytes)
    except HttpStatusError as exc:  # a fetcher may raise for statuses instead of returning them
        retry = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
        return Fetched(status=exc.status, retry_after=retry)
    status = result.status
    etag = header(result.headers, "ETag")
    last_modified = header(result.headers, "Last-Modified")
    if status == 304:
        return Fetched(304, etag=etag, last_modified=last_modified,
                       permanent_url=result.permanent_url)
    if 200 <= status < 300:
        fetched = _with_body(status, result.body, result.url or feed.url)
        return Fetched(
            status=fetched.status, body=fetched.body, base_url=fetched.base_url,
            digest=fetched.digest, etag=etag, last_modified=last_modified,
            permanent_url=result.permanent_url,
        )
    retry_after = parse_retry_after(header(result.headers, "Retry-After"), now)
    return Fetched(status=status, retry_after=retry_after)


def _with_body(status: int, body: bytes, base_url: str) -> Fetched:
    if not body or not body.strip():
        return Fetched(EMPTY)  # an empty 200 is a broken server, not "every episode is gone"
    return Fetched(200, body=body, base_url=base_url, digest=hashlib.sha256(body).hexdigest())


def is_private(url: str) -> bool:
    """Credentials or a query string (often a token) make a URL unfit to log or show."""
    try:
        return has_credentials(url) or bool(urlsplit(url).query)
    except ValueError:
        return True


def status_sentence(status: int) -> str:
    """A user-facing sentence for a feed answer that is not a feed."""
    reasons = {
        404: "The feed address was not found (HTTP 404).",
        410: "The publisher has removed this feed for good (HTTP 410).",
        429: "The feed server asks us to slow down (HTTP 429).",
        401: "The feed needs a login (HTTP 401).",
        403: "The feed server refused access (HTTP 403).",
    }
    if status in reasons:
        return reasons[status]
    if status == EMPTY:
        return "The feed server sent an empty response instead of a feed."
    if 500 <= status < 600:
        return f"The feed server had an internal problem (HTTP {status})."
    return f"The feed server answered with an unexpected status (HTTP {status})."
