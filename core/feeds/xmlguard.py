"""XML safety before any parser sees a feed: no entity declarations, so no expansion and no XXE."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from core.errors import FeedParseError

_ENCODINGS = ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


class _Marker:
    """A keyword in any of _ENCODINGS, any case: a UTF-16 document would otherwise hide it."""

    def __init__(self, text: str) -> None:
        alternatives = b"|".join(re.escape(text.encode(enc)) for enc in _ENCODINGS)
        self._any = re.compile(alternatives, re.IGNORECASE)
        self._ascii = re.compile(re.escape(text.encode("ascii")), re.IGNORECASE)

    def search(self, body: bytes, pos: int = 0) -> re.Match[bytes] | None:
        # Without a NUL byte the document is not UTF-16/32: the one-encoding pattern, 6x faster.
        pattern = self._any if b"\x00" in body else self._ascii
        return pattern.search(body, pos)


_DOCTYPE = _Marker("<!DOCTYPE")
_ENTITY = _Marker("<!ENTITY")

REFUSED_ENTITIES = (
    "The feed declares its own XML entities, which Castfive refuses to expand "
    "(this is how entity-expansion and file-disclosure attacks work)."
)


def refuse_entity_declarations(body: bytes) -> None:
    """Raise FeedParseError when the document's DOCTYPE declares entities (billion laughs, XXE)."""
    doctype = _DOCTYPE.search(body)
    if doctype and _ENTITY.search(body, doctype.start()):
        raise FeedParseError(REFUSED_ENTITIES)


MAX_INTERNAL_ENTITIES = 64
MAX_ENTITY_VALUE = 64  # bytes: `&#160;` or a word, never a document
_PREDEFINED = frozenset({b"lt", b"gt", b"amp", b"quot", b"apos"})
_SUBSET = re.compile(rb"<!DOCTYPE\s+[A-Za-z_][\w.:-]*\s*\[(.*?)\]\s*>", re.DOTALL | re.IGNORECASE)
_ENTITY_DECLARATION = re.compile(
    rb"""<!ENTITY\s+([A-Za-z_][\w.-]*)\s+(?:"([^"]*)"|'([^']*)')\s*>"""
)
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
# Plain text and character references only: no entity references (no nesting, so no
# expansion growth), no markup, no quotes (the value may land in an attribute).
_PLAIN_VALUE = re.compile(rb"(?:[^<>&%\"']|&#[0-9]{1,7};|&#x[0-9a-fA-F]{1,6};)*")


def inline_internal_entities(body: bytes) -> bytes:
    """The document with a few harmless internal entities (`<!ENTITY nbsp "&#160;">`) written
    out and its DOCTYPE dropped, so no parser ever sees an entity declaration.

    Anything else that declares entities is refused with FeedParseError: external (SYSTEM,
    PUBLIC) and parameter entities, values that reference other entities or hold markup,
    too many or too long values, and documents in encodings this byte-level check cannot read.
    """
    doctype = _DOCTYPE.search(body)
    if not doctype or not _ENTITY.search(body, doctype.start()):
        return body
    subset = _SUBSET.match(body, doctype.start())
    if subset is None:
        raise FeedParseError(REFUSED_ENTITIES)
    values: dict[bytes, bytes] = {}
    rest = _COMMENT.sub(b"", subset.group(1))
    for declaration in _ENTITY_DECLARATION.finditer(rest):
        name = declaration.group(1)
        value = declaration.group(2) if declaration.group(2) is not None else declaration.group(3)
        if (name in _PREDEFINED or name in values or len(value) > MAX_ENTITY_VALUE
                or not _PLAIN_VALUE.fullmatch(value)):
            raise FeedParseError(REFUSED_ENTITIES)
        values[name] = value
    if _ENTITY_DECLARATION.sub(b"", rest).strip() or len(values) > MAX_INTERNAL_ENTITIES:
        raise FeedParseError(REFUSED_ENTITIES)  # other declarations, or junk we cannot vouch for
    if not values:  # an empty subset: nothing to write out ('&();' would match a bare '&;')
        result = body[: subset.start()] + body[subset.end():]
        refuse_entity_declarations(result)
        return result
    reference = re.compile(rb"&(" + b"|".join(re.escape(n) for n in values) + rb");")
    document = body[subset.end():]
    growth = sum(len(values[m.group(1)]) - len(m.group(0)) for m in reference.finditer(document))
    if growth > len(document) + 65536:
        raise FeedParseError(REFUSED_ENTITIES)  # each value is short, so only a flood grows it
    written = reference.sub(lambda m: values[m.group(1)], document)
    result = body[: subset.start()] + written
    refuse_entity_declarations(result)  # a second DOCTYPE further down
    return result


_DECLARED_ENCODING = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']"
)
# Encodings in which "<!ENTITY" is the ASCII bytes (or UTF-16/32, which the markers cover).
_VISIBLE_ENCODINGS = re.compile(
    rb"(?i)utf-?(8|16|32)(-?[lb]e)?|(us-)?ascii|iso-?8859-\d+|latin-?1|(windows|cp)-?125\d"
)


def declarations_visible(body: bytes) -> bool:
    """Whether the byte-level check above can see every declaration: the document is in UTF-8,
    UTF-16/32 or an ASCII-compatible encoding. Only then may a parser that does not refuse
    entities itself (ElementTree's C parser) read it."""
    declared = _DECLARED_ENCODING.match(body[:512])
    return declared is None or _VISIBLE_ENCODINGS.fullmatch(declared.group(1)) is not None


def safe_fromstring(body: bytes) -> Element:
    """Parse with defusedxml: entity declarations, external references and DTD fetches refused.

    Raises ParseError for malformed XML and FeedParseError for anything defusedxml forbids.
    """
    try:
        return SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise FeedParseError(REFUSED_ENTITIES) from None


# A CDATA section is matched first and kept as it is: its '&' are text, not references.
# Only an '&' that starts no character or predefined reference matches (it becomes '&amp;').
_AMPERSAND = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&(?!#[0-9]+;|#x[0-9a-fA-F]+;|(?:lt|gt|amp|quot|apos);)", re.DOTALL
)
_USED_PREFIX = re.compile(rb"</?([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=")
_DECLARED_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_ROOT_START = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_KNOWN_NAMESPACES = {
    b"itunes": b"http://www.itunes.com/dtds/podcast-1.0.dtd",
    b"podcast": b"https://podcastindex.org/namespace/1.0",
    b"atom": b"http://www.w3.org/2005/Atom",
    b"content": b"http://purl.org/rss/1.0/modules/content/",
    b"media": b"http://search.yahoo.com/mrss/",
}


def repair_common_faults(body: bytes) -> bytes:
    """Fix the faults real feeds ship that lenient parsers forgive and strict ones do not.

    Only used for a second, strict read of Podcasting 2.0 tags; feedparser reads the original.
    Covers: whitespace before the XML declaration, undefined entities (`&gtgt;`, `&nbsp;`),
    bare ampersands, and namespace prefixes used without a declaration.
    """
    bom = b"\xef\xbb\xbf" if body.startswith(b"\xef\xbb\xbf") else b""
    text = body[len(bom):].lstrip(b" \t\r\n")

    def fix_ampersand(match: re.Match[bytes]) -> bytes:
        return b"&amp;" if match.group(0) == b"&" else match.group(0)

    text = _AMPERSAND.sub(fix_ampersand, text)
    used = {m.group(1) or m.group(2) for m in _USED_PREFIX.finditer(text)}
    declared = set(_DECLARED_PREFIX.findall(text))
    missing = sorted(used - declared - {b"xml", b"xmlns"})
    if missing:
        prolog_end = _first_element(text)
        root = _ROOT_START.match(text, prolog_end) if prolog_end >= 0 else None
        if root is not None:
            declarations = b"".join(
                b' xmlns:%s="%s"' % (p, _KNOWN_NAMESPACES.get(p, b"urn:castfive:unbound:" + p))
                for p in missing
            )
            text = text[: root.end()] + declarations + text[root.end():]
    return bom + text


def _first_element(text: bytes) -> int:
    """Offset of the root element's '<', skipping the declaration, comments and DOCTYPE."""
    for match in re.finditer(rb"<", text):
        nxt = text[match.start() + 1: match.start() + 2]
        if nxt.isalpha() or nxt == b"_":
            return match.start()
    return -1


def local_name(tag: object) -> str:
    """'{uri}name' -> 'name'; anything else (comments, PIs) -> ''."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace_of(tag: object) -> str:
    """'{uri}name' -> 'uri' ('' when none)."""
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].split("}", 1)[0]


def try_parse(body: bytes) -> Element | None:
    """The strict tree of the feed, repaired once if needed; None when still unreadable."""
    for attempt in (body, None):
        data = attempt if attempt is not None else repair_common_faults(body)
        try:
            return safe_fromstring(data)
        except (ParseError, ValueError, UnicodeError, LookupError):
            continue
    return None

