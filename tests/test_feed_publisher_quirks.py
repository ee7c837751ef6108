"""Feeds from publishers who bend the specs still give their episodes' audio, dates and links."""

from __future__ import annotations

import pytest

from core.feeds.parse import parse_feed


def _rss(item: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>{item}</channel></rss>'.encode()


@pytest.mark.parametrize(
    "mime",
    [
        "application/x-mpeg",
        "mp3",
        "application/mp3",
        "application/force-download",
        "application/octet-stream",
        "text/html",
    ],
)
@pytest.mark.parametrize("ext", ["mp3", "m4a"])
def test_an_audio_extension_is_trusted_over_an_odd_enclosure_type(mime: str, ext: str) -> None:
    url = f"https://cdn.example.com/ep1.{ext}"
    enclosure = f'<enclosure url="{url}" type="{mime}" length="100"/>'
    feed = parse_feed(_rss(f"<item><title>E</title><guid>g1</guid>{enclosure}</item>"))
    assert feed.episodes[0].audio_url == url
    assert feed.episodes[0].audio_type.startswith("audio/")
