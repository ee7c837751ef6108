"""What the service works on: a store seeded before start, feeds and transcripts built at test time.

- `seed_store`: subscribers (due now) and insights written into the data dir before start.
- `read_store`: the store opened after the service stopped.
- `build_feed`, `Item`: an RSS feed with Podcasting 2.0 transcripts, in a folder to serve.
- `script_to_vtt`: a WebVTT transcript of a demo script, so no speech-to-text is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from core.models import Subscriber
from core.store.repos import LedgerEntry, Repos
from core.store.tinydb_store import TinyDBStore
from tests.fakes.seed import seed

# --- seeding the store before start ------------------------------------------------------------


def due_now() -> tuple[str, str]:
    """(HH:MM, zone) whose time passed a minute ago today, away from local midnight."""
    now = datetime.now(UTC)
    zone, local = "UTC", now
    if (now.hour == 0 and now.minute < 10) or (now.hour == 23 and now.minute > 50):
        zone, local = "Etc/GMT-6", now + timedelta(hours=6)  # POSIX sign: GMT-6 is UTC+6
    return (local - timedelta(minutes=1)).strftime("%H:%M"), zone


async def seed_store(data_dir: Path, chat_ids: list[int], *, insights: bool = True,
                     paused: bool = False, feeds: int = 4, per_feed: int = 4) -> None:
    """Insights from `feeds` shows created now (unless not wanted), and one Telegram subscriber
    per chat, due a minute ago and created yesterday (so due today)."""
    store = TinyDBStore(data_dir)
    await store.start()
    try:
        repos = Repos(store)
        now = datetime.now(UTC)
        if insights:
            await seed(repos, feeds=feeds, per_feed=per_feed, created=now)
            for feed in await repos.feeds.all():  # their example.org URLs must never be polled
                await repos.feeds.put(replace(feed, next_poll_at=now + timedelta(days=3650),
                                              last_polled_at=now))
        hhmm, zone = due_now()
        for chat_id in chat_ids:
            await repos.subscribers.put(Subscriber(
                id=f"telegram:{chat_id}", platform="telegram", chat_id=str(chat_id),
                title=f"chat {chat_id}", delivery_time=hhmm, timezone=zone, paused=paused,
                created_at=now - timedelta(days=1)))
    finally:
        await store.close()


async def read_store(data_dir: Path) -> tuple[list[Subscriber], list[LedgerEntry], Repos, TinyDBStore]:
    """Open the data dir after the service stopped (the caller closes the store)."""
    store = TinyDBStore(data_dir)
    await store.start()
    repos = Repos(store)
    return await repos.subscribers.all(), await repos.ledger.all(), repos, store


# --- feeds built at test time --------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One episode of a built feed: its transcript file (served beside the feed) and audio."""

    guid: str
    title: str
    transcript: str  # file name in the feed's folder
    mime: str = "text/vtt"
    audio: str = "episode.mp3"
    url_suffix: str = ""  # e.g. "?token=..." on the transcript and audio URLs


def build_feed(folder: Path, base_url: str, title: str, items: list[Item],
               published: datetime | None = None) -> Path:
    """feed.xml in `folder`, items published an hour apart before `published` (default now)."""
    published = published or datetime.now(UTC)
    entries = []
    for n, item in enumerate(items):
        when = format_datetime(published - timedelta(hours=n + 1))
        entries.append(f"""    <item>
      <title>{escape(item.title)}</title>
      <guid isPermaLink="false">{escape(item.guid)}</guid>
      <pubDate>{when}</pubDate>
      <enclosure url="{_attr(base_url + item.audio + item.url_suffix)}" length="1000" type="audio/mpeg"/>
      <podcast:transcript url="{_attr(base_url + item.transcript + item.url_suffix)}" type="{item.mime}"/>
    </item>""")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">
  <channel>
    <title>{escape(title)}</title>
    <link>https://example.org/</link>
    <description>{escape(title)}, built for an end-to-end test.</description>
{chr(10).join(entries)}
  </channel>
</rss>
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feed.xml"
    path.write_text(xml, encoding="utf-8")
    return path


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def script_to_vtt(script: Path, seconds_per_line: float = 9.0) -> str:
    """A WebVTT transcript of a demo script (examples/demo/scripts), one cue per spoken line."""
    names = {"HOST": "Host", "GUEST": "Guest"}
    cues, start = [], 0.0
    for line in script.read_text(encoding="utf-8").splitlines():
        speaker, sep, text = line.partition(": ")
        if not sep or speaker not in names:
            continue
        text = re.sub(r"\{([^|}]*)\|[^}]*\}", r"\1", text)  # {written|spoken}: keep the written form
        end = start + seconds_per_line
        cues.append(f"{_vtt_time(start)} --> {_vtt_time(end)}\n<v {names[speaker]}>{text}\n")
        start = end + 0.5
    return "WEBVTT\n\n" + "\n".join(cues)


def _vtt_time(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int(seconds * 1000) % 1000:03d}"
