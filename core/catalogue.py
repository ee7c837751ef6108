"""The operator's feed catalogue from the config, kept in the store."""

from __future__ import annotations

import logging
from pathlib import Path

from core.config import Settings
from core.errors import CastfiveError
from core.feeds.poller import FeedPoller
from core.ids import feed_id_for
from core.repos import Repos

log = logging.getLogger(__name__)


def resolve_catalogue_entry(entry: str, settings: Settings) -> str:
    """A URL as is; a local path made absolute, relative to the config file's folder."""
    if "://" in entry:
        return entry
    path = Path(entry).expanduser()
    if not path.is_absolute() and settings.source not in ("", "<defaults>"):
        path = Path(settings.source).resolve().parent / path
    return str(path.resolve())


async def sync_catalogue(poller: FeedPoller, repos: Repos, settings: Settings) -> list[str]:
    """Add catalogue feeds not yet in the store; a broken one is logged and retried next start."""
    added: list[str] = []
    for entry in settings.feeds.catalogue:
        source = resolve_catalogue_entry(entry, settings)
        if await repos.feeds.get(feed_id_for(source)) is not None:
            continue
        try:
            feed, _ = await poller.add_feed(source, origin="operator")
        except CastfiveError as exc:
            log.warning("catalogue feed not added feed=%s: %s", feed_id_for(source), exc)
            continue
        added.append(feed.id)
        log.info("catalogue feed added feed=%s title=%r", feed.id, feed.title)
    return added
