"""One log line per event, and no secret ever reaches a log handler.

Redaction happens when a record is created (a log record factory), not in one handler, so it also
covers handlers that libraries attach themselves (litellm adds its own) and tracebacks. What is
masked: every configured secret in its raw and URL-encoded forms, anything shaped like a Telegram
bot token, and any URL carrying credentials (user:pass@) or a query string (private feeds put their
tokens there), which is shown in netguard's redacted form: scheme://host/…#hash; in other URLs
token-like path segments (UUIDs, long hex, base64-ish runs) are masked as ***.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from urllib.parse import quote

from core.netguard import mask_path_tokens, redact_url

# Telegram bot tokens look like 123456:AA...; they also appear inside Bot API URLs.
_TELEGRAM_TOKEN = re.compile(r"\b\d{6,12}(?::|%3[Aa])[A-Za-z0-9_-]{30,}\b")
_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s'"<>`]+""")

# Libraries that log full request URLs (httpx logs the Bot API URL, which contains the token),
# or a line per routine event.
_NOISY = ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler.executors", "apscheduler.scheduler",
          "LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "discord.gateway", "discord.client",
          "discord.http", "aiohttp.access", "aiohttp.client", "faster_whisper")
# Chat libraries log whole updates and message texts at debug level (PTB logs the full /add text,
# private feed URL and all); our own debug lines say what happened without the user's words.
_CHATTY = ("telegram", "telegram.ext", "discord")


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (and anything shaped like a bot token) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        forms: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 6:
                forms.update({secret, quote(secret, safe=""), quote(secret)})
        self.secrets = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drops it."""
        self.scrub(record)
        return True

    def scrub(self, record: logging.LogRecord) -> None:
        """Mask secrets in the message, the traceback and the stack of `record`."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the raw parts, scrubbed
            message = f"{record.msg} {record.args}"
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # the traceback is formatted later by each handler; format it now, scrubbed
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)

    def redact(self, text: str) -> str:
        """The text with secrets masked."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _TELEGRAM_TOKEN.sub("***", text)
        return _URL.sub(_safe_url, text)


def _safe_url(match: re.Match[str]) -> str:
    url = match.group(0)
    authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority or "?" in url:
        return redact_url(url)
    return mask_path_tokens(url)


def setup_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    """Log to stderr, one line per event, every record scrubbed of secrets where it is made."""
    redactor = RedactSecrets(secrets)
    _install_record_factory(redactor)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)  # belt and braces: records made before the factory was set
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    logging.captureWarnings(True)  # warnings go through the same scrubbing
    _route_uncaught_exceptions()


_base_factory: Callable[..., logging.LogRecord] | None = None


def _install_record_factory(redactor: RedactSecrets) -> None:
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
    base = _base_factory

    def make_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redactor.scrub(record)
        return record

    logging.setLogRecordFactory(make_record)


def _route_uncaught_exceptions() -> None:
    """Uncaught exceptions (main thread or others) are logged, so they are scrubbed too."""
    log = logging.getLogger("castfive.uncaught")

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        log.error("uncaught exception in thread %s", name,
                  exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
