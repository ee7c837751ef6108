"""The broker module `castfive worker` hands to Dramatiq; each worker process imports it once.

Dramatiq finds a worker's broker by importing a module, so this one, unlike the rest, builds
at import: settings from $CASTFIVE_CONFIG (set by `castfive worker --config`), the broker and
actors, and the services, which start when the worker boots.
"""

from __future__ import annotations

import logging
import os

from bot.cli import find_config
from bot.logging_setup import setup_logging
from core.config import load_settings
from core.jobs.distributed.worker import WorkerApp, make_worker_broker

QUEUES_ENV = "CASTFIVE_WORKER_QUEUES"
THREADS_ENV = "CASTFIVE_WORKER_THREADS"

settings = load_settings(find_config(None))
setup_logging(logging.DEBUG if os.environ.get("CASTFIVE_VERBOSE") else logging.INFO,
              settings.secrets.for_log_scrubbing())
app = WorkerApp(settings, os.environ.get(QUEUES_ENV, ""), threads=int(os.environ.get(THREADS_ENV, "8")))
broker, actors = make_worker_broker(app)
