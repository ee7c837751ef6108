"""The broker module bench/scale.py's worker processes import (like bot/worker_app.py).

Its transcriber is chosen by $CASTFIVE_BENCH_TRANSCRIBER: `wait` sleeps a fixed time per audio
minute with the CPU idle, as a remote GPU would keep a worker waiting; `whisper` is the real
faster-whisper of the config.
"""

from __future__ import annotations

import asyncio
import logging
import os
import wave
from pathlib import Path

from bot.logging_setup import setup_logging
from core.bootstrap import Services, build_services
from core.config import Settings, load_settings
from core.dsn import url_secrets
from core.jobs.distributed.worker import WorkerApp, make_worker_broker
from core.models import Segment
from core.store.postgres_store import PostgresStore


class WaitingTranscriber:
    """Waits `seconds_per_minute` per minute of audio, then returns a short fixed transcript."""

    name = "bench-wait"

    def __init__(self, seconds_per_minute: float) -> None:
        self.seconds_per_minute = seconds_per_minute

    async def start(self) -> None:
        return None

    async def transcribe(self, audio_path: Path, on_progress=None) -> tuple[Segment, ...]:
        with wave.open(str(audio_path)) as audio:
            minutes = audio.getnframes() / audio.getframerate() / 60
        await asyncio.sleep(self.seconds_per_minute * minutes)
        return (Segment(0.0, 6.0, "Welcome back to the show."),
                Segment(6.0, 14.0, "Teams that deploy every day halve their failure rate because each "
                                   "change is small."),
                Segment(14.0, 22.0, "Battery prices fell ninety percent in ten years, so storage now "
                                    "beats gas peakers."))


def _services(settings: Settings, store: PostgresStore) -> Services:
    if os.environ.get("CASTFIVE_BENCH_TRANSCRIBER") == "whisper":
        return build_services(settings, store=store)
    delay = float(os.environ.get("CASTFIVE_BENCH_DELAY", "2.0"))
    return build_services(settings, store=store, transcriber=WaitingTranscriber(delay))


settings = load_settings(os.environ["CASTFIVE_CONFIG"])
setup_logging(logging.WARNING, url_secrets(settings.secrets.database_url, settings.secrets.redis_url))
app = WorkerApp(settings, "transcribe,extract", services_factory=_services, threads=1)
broker, actors = make_worker_broker(app)
