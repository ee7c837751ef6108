"""[distributed]: one process (TinyDB) or many machines (PostgreSQL + Dramatiq on Redis)."""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("local", "distributed")


@dataclass(frozen=True)
class DistributedSettings:
    """Scale-out; the URLs are CASTFIVE_DATABASE_URL and CASTFIVE_REDIS_URL in the environment."""

    mode: str = "local"  # "local": everything in `python -m bot` on TinyDB; "distributed": see README
    transcribe_time_limit_minutes: float = 240.0  # a stuck transcription is interrupted and retried
    extract_time_limit_minutes: float = 30.0
    poll_time_limit_minutes: float = 10.0
    max_retries: int = 3  # for crashes the pipeline did not record; its own retries are max_attempts
    redispatch_minutes: float = 60.0  # a queued episode nobody finished is sent again after this
    heartbeat_timeout_s: float = 60.0  # a worker silent this long is dead: its messages go to others
    maintenance_chance: float = 0.001  # share of broker fetches that also requeue dead workers' work
    lease_check_seconds: float = 1.0  # how often the active scheduler confirms it still holds the lease
