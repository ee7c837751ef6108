"""The operator's feed catalogue from the config, kept in the store."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from core.config import Settings
from core.errors import CastfiveError
from core.feeds.poller import FeedPoller
from core.ids import feed_id_for
from core.store.repos import Repos

log = logging.getLogger(__name__)


def resolve_catalogue_entry(entry: str, settings: Settings) -> str:
    """A URL as is; a local path made absolute, relative to the config file's folder."""
    if "://" in entry:
        return entry
    path = Path(entry).expanduser()
    if not path.is_absolute() and settings.source not in ("", "<defaults>"):
        path = Path(settings.source).resolve().parent / path
    return str(path.resolve())


def catalogue_feed_ids(settings: Settings) -> frozenset[str]:
    """The feed ids of the operator's catalogue: always polled, whoever follows them."""
    return frozenset(feed_id_for(resolve_catalogue_entry(e, settings)) for e in settings.feeds.catalogue)


async def sync_catalogue(poller: FeedPoller, repos: Repos, settings: Settings) -> list[str]:
    """Add catalogue feeds not yet in the store, a few at a time.

    Cheap when nothing is missing, so the poll job calls it on every run: a feed that was down
    at start is added as soon as it answers, without a restart.
    """
    missing = []
    for entry in settings.feeds.catalogue:
        source = resolve_catalogue_entry(entry, settings)
        if await repos.feeds.get(feed_id_for(source)) is None:
            missing.append(source)
    gate = asyncio.Semaphore(8)

    async def add(source: str) -> str | None:
        async with gate:
            try:
                feed, _ = await poller.add_feed(source, origin="operator")
            except CastfiveError as exc:
                log.warning("catalogue feed not added yet feed=%s: %s", feed_id_for(source), exc)
                return None
        log.info("catalogue feed added feed=%s title=%r", feed.id, feed.title)
        return feed.id

    return [f for f in await asyncio.gather(*(add(s) for s in missing)) if f]
