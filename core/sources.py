"""Read an episode's assets (transcripts, chapters, audio) by URL; local files only for operator feeds."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import FetchError, HttpStatusError, InvalidUrlError, ResponseTooLargeError
from core.feeds.local import local_path, read_local_feed
from core.models import Feed
from core.netguard import check_url
from core.ports import Fetcher


def local_path_of(url: str) -> Path | None:
    """The path of a file:// URL, else None."""
    return local_path(url) if urlsplit(url).scheme == "file" else None


def _local_allowed(url: str, feed: Feed) -> Path | None:
    path = local_path_of(url)
    if path is None:
        return None
    if feed.origin != "operator":  # a feed a user added may never make us read local files
        raise InvalidUrlError("Only http and https links can be followed.")
    return path


async def fetch_asset(fetcher: Fetcher, url: str, *, feed: Feed, max_bytes: int) -> tuple[bytes, str]:
    """The body and content type of a small asset; raises FetchError on any failure."""
    path = _local_allowed(url, feed)
    if path is not None:
        return await asyncio.to_thread(read_local_feed, path, max_bytes, "episode file"), ""
    result = await fetcher.get(check_url(url), max_bytes=max_bytes)
    if result.status != 200:
        raise HttpStatusError(f"The server answered {result.status}.", result.status)
    return result.body, result.headers.get("Content-Type", "")


async def download_asset(fetcher: Fetcher, url: str, dest: Path, *, feed: Feed, max_bytes: int) -> Path:
    """Stream an asset to `dest` (atomically); raises FetchError on any failure."""
    path = _local_allowed(url, feed)
    if path is not None:
        await asyncio.to_thread(_copy_capped, path, dest, max_bytes)
        return dest
    await fetcher.download(check_url(url), dest, max_bytes=max_bytes)
    return dest


def _copy_capped(src: Path, dest: Path, max_bytes: int) -> None:
    part = dest.with_name(dest.name + ".part")
    try:
        if src.stat().st_size > max_bytes:
            raise ResponseTooLargeError("The audio file is larger than allowed.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, part)
        with open(part, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(part, dest)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise FetchError(f"Could not copy the local file: {exc.strerror}.") from None
