"""One active scheduler: a PostgreSQL advisory lock held on its own connection for life.

A second bot waits, trying the lock every few seconds (hot standby). The holder checks its
connection every `check_s`; losing it (database restart, network) loses the lock, and the
holder must stop sending at once. A new holder waits five checks before it starts, longer than
the old one takes to notice (a check plus a 3-check probe timeout): never two senders at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from core.dsn import mask_dsn

log = logging.getLogger(__name__)

SCHEDULER_LOCK = 0x0CA57F5C  # the advisory lock key of "the active scheduler"


class SchedulerLease:
    """Acquire (waiting as standby), then watch; `on_lost` runs once if the lock goes."""

    def __init__(self, dsn: str, on_lost: Callable[[], None], *, check_s: float = 1.0,
                 retry_s: float = 2.0) -> None:
        self._dsn = dsn
        self._on_lost = on_lost
        self.check_s = check_s
        self.retry_s = retry_s
        self._conn: psycopg.AsyncConnection | None = None
        self._watch: asyncio.Task[None] | None = None
        self.held = False

    async def acquire(self) -> None:
        """Return once this process holds the lease; until then it is the standby."""
        waiting_logged = False
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                log.warning("scheduler lease: database %s unavailable (%s); retrying",
                            mask_dsn(self._dsn), str(exc).splitlines()[0] if str(exc) else exc)
                await asyncio.sleep(self.retry_s)
                continue
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK,))).fetchone()
            if row and row[0]:
                break
            await conn.close()
            if not waiting_logged:
                log.info("another scheduler is active: waiting as standby")
                waiting_logged = True
            await asyncio.sleep(self.retry_s)
        self._conn = conn
        await asyncio.sleep(5 * self.check_s)  # a previous holder that lost it has stopped by now
        self.held = True
        self._watch = asyncio.create_task(self._watch_loop(), name="castfive-lease-watch")
        log.info("scheduler lease acquired: this process schedules and delivers")

    async def _watch_loop(self) -> None:
        assert self._conn is not None
        while True:
            await asyncio.sleep(self.check_s)
            try:
                await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=3 * self.check_s)
            except (psycopg.Error, TimeoutError) as exc:
                self.held = False
                log.error("scheduler lease lost (%s): stopping so the standby takes over",
                          type(exc).__name__)
                self._on_lost()
                return

    async def release(self) -> None:
        """Give the lease up (on a clean stop)."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()  # the session's end releases the advisory lock
            except psycopg.Error:
                pass
        self.held = False
