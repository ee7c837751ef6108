"""Database and broker URLs: from the environment only, and never shown with their password."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

DATABASE_URL_ENV = "CASTFIVE_DATABASE_URL"
REDIS_URL_ENV = "CASTFIVE_REDIS_URL"


def mask_dsn(url: str) -> str:
    """The URL with any password replaced by `***` (and no query, which may hold one too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if "://" not in url:  # a libpq "key=value" string: keep only what cannot be a secret
        return "<connection string>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    user = parts.username or ""
    auth = f"{user}:***@" if parts.password is not None else (f"{user}@" if user else "")
    return urlunsplit((parts.scheme, f"{auth}{host}{port}", parts.path, "", ""))


def url_secrets(*urls: str) -> tuple[str, ...]:
    """The passwords inside these URLs, for the log scrubber."""
    found = []
    for url in urls:
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:  # as written, and decoded: libpq's errors may echo either
            found += [password, unquote(password)]
    return tuple(dict.fromkeys(found))


def database_url(environ: Mapping[str, str]) -> str:
    """CASTFIVE_DATABASE_URL, stripped ("" when unset)."""
    return environ.get(DATABASE_URL_ENV, "").strip()


def redis_url(environ: Mapping[str, str]) -> str:
    """CASTFIVE_REDIS_URL, stripped ("" when unset)."""
    return environ.get(REDIS_URL_ENV, "").strip()
