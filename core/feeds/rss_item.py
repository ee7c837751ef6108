"""One RSS <item> element -> an ItemDraft, for the fast reader (`core/feeds/rss_reader.py`)."""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from core.feeds.dates import parse_date
from core.feeds.draft import ItemDraft, MediaDraft
from core.feeds.podcast_ns import ItemExtras, add_podcast_tag, is_podcast_namespace
from core.feeds.psc import PSC_NAMESPACE, psc_chapters

_NAMESPACES = {
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://www.w3.org/2005/atom": "atom",
    PSC_NAMESPACE: "psc",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
}
_DATE_TAGS = {("", "pubdate"): 0, ("atom", "published"): 0, ("dcterms", "issued"): 0,
              ("dc", "date"): 1, ("atom", "updated"): 1, ("dcterms", "modified"): 1,
              ("dcterms", "created"): 2}
_DESCRIPTION_TAGS = {("", "description"), ("content", "encoded"), ("itunes", "summary"),
                     ("media", "description"), ("atom", "summary"), ("atom", "content")}


class Names:
    """'{uri}local' -> (namespace kind, lowercase local name), cached per document."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, str]] = {}
        self._prefixes: dict[str, str] = {}

    def declare(self, prefix: str, uri: str) -> None:
        # An unknown URI is known by its prefix, as feedparser does (xmlns:itunes="wrong").
        self._prefixes.setdefault(uri, prefix.lower())

    def __call__(self, tag: str) -> tuple[str, str]:
        found = self._cache.get(tag)
        if found is None:
            if tag.startswith("{"):
                uri, local = tag[1:].split("}", 1)
                lowered = uri.lower()
                kind = _NAMESPACES.get(lowered) or (
                    "podcast" if is_podcast_namespace(uri) else self._prefixes.get(uri, "?"))
            else:
                kind, local = "", tag
            found = self._cache[tag] = (kind, local.lower())
        return found


def item_date(el: Element, names: Names) -> datetime | None:
    for when in item_dates(el, names):
        if (parsed := parse_date(when)) is not None:
            return parsed
    return None


def item_dates(el: Element, names: Names) -> tuple[str, ...]:
    found: list[tuple[int, str]] = []
    for child in el:
        rank = _DATE_TAGS.get(names(child.tag))
        if rank is not None and child.text and child.text.strip():
            found.append((rank, child.text))
    return tuple(text for _, text in sorted(found, key=lambda pair: pair[0]))


def read_item(el: Element, names: Names, base_url: str | None) -> ItemDraft:
    item = ItemDraft(dates=item_dates(el, names))
    extras = ItemExtras(guid=None)
    marks: list[tuple[str | None, str | None, str | None]] = []
    for child in el:
        _read_child(child, names, item, extras, marks, base_url)
    extras.guid = item.guid
    item.extras = extras
    item.chapters = psc_chapters(marks, base_url)
    return item


def _read_child(child: Element, names: Names, item: ItemDraft, extras: ItemExtras,
                marks: list[tuple[str | None, str | None, str | None]],
                base_url: str | None) -> None:
    kind, name = names(child.tag)
    text = child.text or ""
    if kind == "":
        _plain(child, name, text, item)
    elif kind == "podcast":
        add_podcast_tag(extras, name, child, base_url)
    elif (kind, name) in _DESCRIPTION_TAGS:
        item.descriptions.append(text)
    elif kind == "itunes":
        if name == "title":
            item.itunes_title = text.strip()
        elif name == "duration":
            item.duration = text
    elif kind == "media":
        _media(child, name, names, item)
    elif kind == "atom" and name == "link":
        _atom_link(child, item)
    elif kind == "psc" and name == "chapters":
        marks.extend((c.get("start"), c.get("title"), c.get("href")) for c in child
                     if names(c.tag) == ("psc", "chapter"))


def _plain(child: Element, name: str, text: str, item: ItemDraft) -> None:
    if name == "guid":
        item.guid = text.strip() or None
        item.guid_is_permalink = child.get("isPermaLink", "true") == "true" and not item.links
    elif name == "title":
        if not item.title:
            item.title = text.strip()
    elif name == "link":
        if text.strip():
            item.links.append(text.strip())
    elif name == "enclosure":
        url = (child.get("url") or child.get("href") or "").strip()
        if url:
            item.enclosures.append(MediaDraft(url=url, type=(child.get("type") or "").strip(),
                                              length=child.get("length")))
    elif name == "description":
        item.descriptions.append(text)


def _media(child: Element, name: str, names: Names, item: ItemDraft) -> None:
    if name == "content":
        url = (child.get("url") or "").strip()
        if url:
            item.media.append(MediaDraft(
                url=url, type=(child.get("type") or "").strip(), length=child.get("fileSize"),
                medium=(child.get("medium") or "").strip(), duration=child.get("duration"),
                is_default=(child.get("isDefault") or "").strip().lower() == "true",
            ))
        for inner in child:  # a media:description inside the rendition
            if names(inner.tag) == ("media", "description"):
                item.descriptions.append(inner.text or "")
    elif name == "group":
        for inner in child:
            kind, inner_name = names(inner.tag)
            if kind == "media" and inner_name != "group":  # one level: a group holds renditions
                _media(inner, inner_name, names, item)


def _atom_link(child: Element, item: ItemDraft) -> None:
    href = (child.get("href") or "").strip()
    rel = child.get("rel") or "alternate"
    if not href:
        return
    if rel == "alternate":
        item.links.append(href)
    elif rel == "enclosure":
        item.enclosures.append(MediaDraft(url=href, type=(child.get("type") or "").strip(),
                                          length=child.get("length")))
