"""A full data folder: how to recognise it, how much is free, and one log line a minute about it."""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from pathlib import Path

from core.errors import DiskFullError

_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
LOG_EVERY_SECONDS = 60.0

_lock = threading.Lock()
_last_logged: float | None = None


def is_disk_full(exc: BaseException | None) -> bool:
    """True when the error, or one it was raised from, is 'no space left' (or over quota)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno in _FULL):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def disk_full_error(directory: Path) -> DiskFullError:
    """The user-facing error, with the space left in the data folder."""
    try:
        free_mb = shutil.disk_usage(directory).free // (1024 * 1024)
    except OSError:
        free_mb = 0
    return DiskFullError(f"the data folder is full: {free_mb} MB free, need more to continue", free_mb)


def log_disk_full(log: logging.Logger, exc: BaseException, what: str) -> None:
    """Log a full disk once a minute, not once per operation (a hundred feeds fail together)."""
    global _last_logged
    now = time.monotonic()
    with _lock:
        due = _last_logged is None or now - _last_logged >= LOG_EVERY_SECONDS
        if due:
            _last_logged = now
    if due:
        log.error("%s: %s (said once a minute while the disk stays full)", what, exc)
    else:
        log.debug("%s: %s", what, exc)


def reset_log_throttle() -> None:
    """Forget when the last line was written (tests)."""
    global _last_logged
    with _lock:
        _last_logged = None
