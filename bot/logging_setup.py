"""One log line per event, and no secret ever reaches a log handler."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Telegram bot tokens look like 123456:AA...; they also appear inside Bot API URLs.
_TELEGRAM_TOKEN = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")

# Libraries that log full request URLs (httpx logs the Bot API URL, which contains the token).
_NOISY = ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler.executors", "LiteLLM", "litellm",
          "discord.gateway", "discord.client", "aiohttp.access")


class RedactSecrets(logging.Filter):
    """Replaces every configured secret (and anything shaped like a bot token) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # exception text is formatted later; scrub it by formatting now
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(text)
        return True

    def redact(self, text: str) -> str:
        """The text with secrets masked."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TELEGRAM_TOKEN.sub("***", text)


def setup_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    """Log to stderr, one line per event, through the secret filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
