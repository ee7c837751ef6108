"""A strict second read of the feed for Podcasting 2.0 tags feedparser loses or flattens.

feedparser keeps only the last of repeated tags (two `podcast:transcript` offers become one) and
drops element text (the name in `podcast:person`, the title in `podcast:soundbite`). This pass
reads them with defusedxml, per item in document order, plus the channel's own title, which
feedparser overwrites with a `podcast:liveItem`'s title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from core.feeds.fields import (
    absolute_url,
    clean_line,
    guess_transcript_type,
    mime_of,
    parse_float,
)
from core.feeds.xmlguard import local_name, namespace_of, try_parse
from core.models import Person, Soundbite, TranscriptLink

ATOM = "http://www.w3.org/2005/Atom"

def is_podcast_namespace(uri: str) -> bool:
    """The Podcasting 2.0 namespace, in its current and its older GitHub spelling."""
    lowered = uri.lower()
    return "podcastindex" in lowered or "podcast-namespace" in lowered


@dataclass
class ItemExtras:
    """The Podcasting 2.0 tags of one item."""

    guid: str | None
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    persons: list[Person] = field(default_factory=list)
    soundbites: list[Soundbite] = field(default_factory=list)


@dataclass
class FeedExtras:
    """What the strict read found: the channel's own title, link, image and each item's tags."""

    title: str
    link: str | None
    image_url: str | None
    items: list[ItemExtras]


def mentions_podcast_namespace(body: bytes) -> bool:
    """Cheap test that the strict read could find anything (it costs a second parse)."""
    return b"podcastindex" in body or b"podcast-namespace" in body or b"<podcast:" in body


def read_extras(body: bytes, base_url: str | None) -> FeedExtras | None:
    """The channel title and per-item Podcasting 2.0 tags, or None when the XML stays unreadable."""
    root = try_parse(body)
    if root is None:
        return None
    name = local_name(root.tag).lower()
    if name == "rss":
        channel = next((c for c in root if local_name(c.tag) == "channel"), None)
        if channel is None:
            return None
        items = [c for c in channel if local_name(c.tag) == "item"]
        title_parent = channel
    elif name == "feed":
        items = [c for c in root if c.tag == f"{{{ATOM}}}entry"]
        title_parent = root
    elif name == "rdf":
        items = [c for c in root if local_name(c.tag) == "item"]
        title_parent = next((c for c in root if local_name(c.tag) == "channel"), root)
    else:
        return None
    title = clean_line(_child_text(title_parent, "title"))
    link = absolute_url(_child_text(title_parent, "link"), base_url)
    return FeedExtras(
        title=title,
        link=link,
        image_url=_channel_image(title_parent, base_url),
        items=[_read_item(item, base_url) for item in items],
    )


def _child_text(parent: Element, name: str) -> str:
    """The text of the first direct child called `name` in no namespace (or Atom)."""
    for child in parent:
        if local_name(child.tag) == name and namespace_of(child.tag) in ("", ATOM):
            return child.text or child.get("href") or ""
    return ""


def _channel_image(channel: Element, base_url: str | None) -> str | None:
    for child in channel:
        name, ns = local_name(child.tag), namespace_of(child.tag)
        if name == "image" and "itunes" in ns and child.get("href"):
            return absolute_url(child.get("href"), base_url)
        if name == "image" and ns == "":
            return absolute_url(_child_text(child, "url"), base_url)
    return None


def _read_item(item: Element, base_url: str | None) -> ItemExtras:
    extras = ItemExtras(guid=_guid_of(item))
    for child in item:
        if is_podcast_namespace(namespace_of(child.tag)):
            add_podcast_tag(extras, local_name(child.tag).lower(), child, base_url)
    return extras


def add_podcast_tag(extras: ItemExtras, kind: str, el: Element, base_url: str | None) -> None:
    """Add one Podcasting 2.0 element of an item (`kind`: its lowercase local name)."""
    if kind == "transcript":
        link = _transcript(el, base_url)
        if link is not None and link not in extras.transcripts:
            extras.transcripts.append(link)
    elif kind == "chapters" and extras.chapters_url is None:
        extras.chapters_url = absolute_url(el.get("url"), base_url)
    elif kind == "person":
        person = _person(el, base_url)
        if person is not None:
            extras.persons.append(person)
    elif kind == "soundbite":
        bite = _soundbite(el)
        if bite is not None:
            extras.soundbites.append(bite)


def _guid_of(item: Element) -> str | None:
    for child in item:
        if local_name(child.tag) in ("guid", "id") and namespace_of(child.tag) in ("", ATOM):
            text = (child.text or "").strip()
            return text or None
    return None


def _transcript(el: Element, base_url: str | None) -> TranscriptLink | None:
    url = absolute_url(el.get("url"), base_url)
    if url is None:
        return None
    mime = mime_of(el.get("type")) or guess_transcript_type(url)
    language = (el.get("language") or "").strip() or None
    rel = (el.get("rel") or "").strip().lower() or None
    return TranscriptLink(url=url, mime_type=mime, language=language, rel=rel)


def _person(el: Element, base_url: str | None) -> Person | None:
    name = clean_line(el.text or "")
    if not name:
        return None
    return Person(
        name=name[:200],
        role=(el.get("role") or "host").strip().lower()[:100] or "host",
        group=(el.get("group") or "cast").strip().lower()[:100] or "cast",
        href=absolute_url(el.get("href"), base_url),
        img=absolute_url(el.get("img"), base_url),
    )


def _soundbite(el: Element) -> Soundbite | None:
    start = parse_float(el.get("startTime"))
    duration = parse_float(el.get("duration"))
    if start is None or duration is None or duration <= 0:
        return None
    return Soundbite(start=start, duration=duration, title=clean_line(el.text or "")[:300])
