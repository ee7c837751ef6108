"""OPML subscription lists: read (nested outlines, hostile files) and write."""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

from core.errors import FeedParseError, ValidationError
from core.feeds.local import is_web_url
from core.feeds.xmlguard import local_name, refuse_entity_declarations, try_parse
from core.models import Feed

MAX_OPML_BYTES = 5 * 1024 * 1024
MAX_OUTLINES = 10_000  # far beyond any real subscription list
MAX_DEPTH = 50
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def parse_opml(data: bytes) -> list[tuple[str, str]]:
    """(title, xmlUrl) for every feed outline, nested ones included, first occurrence kept.

    Raises ValidationError saying why when the file yields no feeds at all.
    """
    if not isinstance(data, (bytes, bytearray)) or not bytes(data).strip():
        raise ValidationError("The OPML file is empty.")
    if len(data) > MAX_OPML_BYTES:
        raise ValidationError("The OPML file is too large (over 5 MB).")
    data = bytes(data)
    try:
        refuse_entity_declarations(data)
        root = try_parse(data)
    except FeedParseError:
        raise ValidationError("The OPML file declares XML entities, which are refused.") from None
    if root is None:
        raise ValidationError("That file is not OPML: it is not readable XML.")
    if local_name(root.tag).lower() != "opml":
        raise ValidationError("That file is not OPML: its root element is not <opml>.")
    body = next((c for c in root if local_name(c.tag).lower() == "body"), None)
    if body is None:
        raise ValidationError("The OPML file has no <body> with subscriptions.")
    found: dict[str, str] = {}
    stack: list[tuple[Element, int]] = [(child, 1) for child in reversed(list(body))]
    visited = 0
    outlines = 0
    too_deep = False
    while stack:
        element, depth = stack.pop()
        visited += 1
        if visited > MAX_OUTLINES:
            raise ValidationError("The OPML file has too many entries.")
        if local_name(element.tag).lower() != "outline":
            continue
        outlines += 1
        attrs = {k.lower(): v for k, v in element.attrib.items()}
        url = " ".join((attrs.get("xmlurl") or "").split())
        if url and url not in found:
            # Plain text, not HTML: "<Live>" in a title is part of the name.
            title = " ".join((attrs.get("title") or attrs.get("text") or "").split())[:300]
            found[url] = title or url
        if depth < MAX_DEPTH:
            stack.extend((child, depth + 1) for child in reversed(list(element)))
        elif len(element):
            too_deep = True
    if not found:
        # An import that adds nothing must say why, or the user cannot fix the file.
        raise ValidationError(_why_empty(outlines, too_deep))
    return [(title, url) for url, title in found.items()]


def _why_empty(outlines: int, too_deep: bool) -> str:
    if too_deep:
        return (f"The OPML file nests its outlines deeper than {MAX_DEPTH} levels and has no feeds "
                "above that; flatten it and try again.")
    if not outlines:
        return "The OPML file has no <outline> entries in its <body>, so there is nothing to import."
    return "The OPML file has no outlines with an xmlUrl (a feed address), so there is nothing to import."


def build_opml(feeds: Sequence[Feed], title: str = "Castfive subscriptions") -> bytes:
    """An OPML 2.0 document listing the feeds (web feeds only: local paths mean nothing elsewhere)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _xml_safe(title)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        if not is_web_url(feed.url):
            continue
        name = _xml_safe(feed.title or feed.url)
        attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": _xml_safe(feed.url)}
        if feed.site_url:
            attrs["htmlUrl"] = _xml_safe(feed.site_url)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (ElementTree would write them and break the file)."""
    return _XML_INVALID.sub("", text)
