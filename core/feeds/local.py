"""Operator feeds given as local files: telling them from URLs and reading them safely."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from core.errors import FetchError, InvalidUrlError, ResponseTooLargeError


def is_web_url(location: str) -> bool:
    """True for http(s) URLs; everything else an operator gives is a local path."""
    return location.strip().lower().startswith(("http://", "https://"))


def local_path(location: str) -> Path:
    """The absolute path an operator's `file://` URL or plain path names."""
    text = location.strip()
    if not text:
        raise InvalidUrlError("The feed location is empty.")
    if text.lower().startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise InvalidUrlError("Only file:// URLs on this machine can be read.")
        text = url2pathname(parts.path)
    elif "://" in text:
        raise InvalidUrlError("Only http://, https:// or local file feeds can be added.")
    return Path(text).expanduser().resolve()


def read_local_feed(path: Path, max_bytes: int, what: str = "feed file") -> bytes:
    """The bytes of an operator's local file (blocking: run it off the loop); raises FetchError."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FetchError(f"The {what} {path.name!r} is not a regular file.")
        if size > max_bytes:
            raise ResponseTooLargeError(
                f"The {what} {path.name!r} is larger than the {max_bytes // 1024} KiB limit."
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise FetchError(f"The {what} {path.name!r} does not exist.") from None
    except PermissionError:
        raise FetchError(f"The {what} {path.name!r} cannot be read (permission denied).") from None
    except IsADirectoryError:
        raise FetchError(f"The {what} path {path.name!r} is a folder, not a file.") from None
    except OSError as exc:
        raise FetchError(f"The {what} {path.name!r} cannot be read ({exc.strerror}).") from None
    if len(data) > max_bytes:  # grew while we read it
        raise ResponseTooLargeError(f"The {what} {path.name!r} is larger than the limit.")
    return data
