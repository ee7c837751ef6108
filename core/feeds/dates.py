"""Feed dates as publishers really write them -> aware UTC datetimes.

RFC 822 with any weekday (or none, in any language), month names in common European languages,
missing seconds, two-digit years, ISO 8601 where RFC 822 belongs, and zone abbreviations.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache

log = logging.getLogger(__name__)

_MONTH_NAMES = (
    "january januar jänner janvier enero gennaio januari janeiro",
    "february februar février febrero febbraio februari fevereiro",
    "march märz mars marzo maart março",
    "april avril abril aprile",
    "may mai mayo maggio mei maio maj",
    "june juni juin junio giugno junho",
    "july juli juillet julio luglio julho",
    "august août agosto augustus augusti",
    "september septembre septiembre setiembre settembre setembro",
    "october oktober octobre octubre ottobre outubro",
    "november novembre noviembre novembro",
    "december dezember décembre diciembre dicembre dezembro desember",
)
# Abbreviations that are not a prefix of the month's full names above.
_EXTRA_ABBREVIATIONS = {"mrz": 3, "mrt": 3, "sept": 9, "set": 9, "out": 10, "dic": 12, "gen": 1,
                        "ene": 1, "ago": 8, "lug": 7, "giu": 6, "mag": 5, "okt": 10, "des": 12}


def _fold(word: str) -> str:
    """Lowercase without accents: 'Févr.' -> 'fevr'."""
    decomposed = unicodedata.normalize("NFKD", word.lower().rstrip("."))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_FULL_NAMES = [{_fold(name) for name in names.split()} for names in _MONTH_NAMES]

# Offsets in hours. US names as feedparser (and RFC 822) read them; IST is India's, the most
# common in feeds; CST stays US Central, as RFC 822 defines it.
_ZONES: dict[str, float] = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 1, "ist": 5.5, "west": 1,
    "cet": 1, "met": 1, "mez": 1, "cest": 2, "mest": 2, "mesz": 2, "eet": 2, "eest": 3,
    "msk": 3, "sast": 2, "cat": 2, "eat": 3, "pkt": 5, "wib": 7, "hkt": 8, "sgt": 8,
    "awst": 8, "jst": 9, "kst": 9, "acst": 9.5, "acdt": 10.5, "aest": 10, "aedt": 11,
    "nzst": 12, "nzdt": 13, "brt": -3, "art": -3, "nst": -3.5, "ndt": -2.5,
    "adt": -3, "ast": -4, "at": -4, "edt": -4, "est": -5, "et": -5, "cdt": -5, "cst": -6,
    "ct": -6, "mdt": -6, "mst": -7, "mt": -7, "pdt": -7, "pst": -8, "pt": -8,
    "akst": -9, "akdt": -8, "hst": -10,
}

_WORD = r"[^\W\d_]+"
_WEEKDAY = rf"(?:{_WORD}\.?\s*,\s*|{_WORD}\.?\s+)?"  # any language, or none
_TIME = r"(?:[\sT]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
_DAY_FIRST = re.compile(
    rf"^{_WEEKDAY}(\d{{1,2}})\.?[\s\-/]*({_WORD})\.?,?[\s\-/]*(\d{{4}}|\d{{2}}){_TIME}\s*(.*)$"
)
_MONTH_FIRST = re.compile(
    rf"^{_WEEKDAY}({_WORD})\.?\s+(\d{{1,2}}),?\s+(\d{{4}}){_TIME}\s*(.*)$"
)
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(.*)$"
)
_NUMERIC_ZONE = re.compile(r"([+-])(\d{1,2}):?(\d{2})?\b")
_ZONE_NAME = re.compile(r"[A-Za-z]+")


def parse_date(value: object) -> datetime | None:
    """A feed date as an aware UTC datetime; None when it cannot be read."""
    if not isinstance(value, str):
        return None
    return _parse_text(value)


@lru_cache(maxsize=4096)  # the item cap reads each date once, the episode once more
def _parse_text(value: str) -> datetime | None:
    text = " ".join(value.split())
    if not text or len(text) > 100:
        return None
    month: int | None
    if match := _ISO.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        rest = match.groups()[3:]
    elif match := _DAY_FIRST.match(text):
        day, month, year = int(match[1]), _month(match[2]), _full_year(match[3])
        rest = match.groups()[3:]
    elif match := _MONTH_FIRST.match(text):
        month, day, year = _month(match[1]), int(match[2]), int(match[3])
        rest = match.groups()[3:]
    else:
        return None
    hour, minute, second, zone = rest
    offset = _offset(zone)
    if month is None or offset is None:
        return None
    try:
        local = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0))
        return (local - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


@lru_cache(maxsize=512)
def _month(word: str) -> int | None:
    folded = _fold(word)
    if folded in _EXTRA_ABBREVIATIONS:
        return _EXTRA_ABBREVIATIONS[folded]
    if len(folded) < 3:
        return None
    found = {i + 1 for i, names in enumerate(_FULL_NAMES) if any(n.startswith(folded) for n in names)}
    return found.pop() if len(found) == 1 else None  # 'jui' is June or July in French


def _full_year(digits: str) -> int:
    year = int(digits)
    if len(digits) == 2:  # RFC 2822: 00-49 are 2000s, 50-99 are 1900s
        year += 2000 if year < 50 else 1900
    return year


def _offset(zone: str) -> timedelta | None:
    """The zone's offset from UTC; empty or unknown names are UTC, garbage is unreadable."""
    zone = zone.strip().strip("()")
    if not zone:
        return timedelta(0)
    if numeric := _NUMERIC_ZONE.search(zone):
        hours, minutes = int(numeric[2]), int(numeric[3] or 0)
        if hours > 14 or minutes > 59:
            return None
        sign = -1 if numeric[1] == "-" else 1
        return sign * timedelta(hours=hours, minutes=minutes)
    name = _ZONE_NAME.match(zone)
    if name is None:
        return timedelta(0)
    offset = _ZONES.get(name[0].lower())
    if offset is None:
        log.debug("unknown time zone %r read as UTC", name[0][:20])
        return timedelta(0)
    return timedelta(hours=offset)
