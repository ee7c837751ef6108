"""Named locks taken without waiting: two workers never run the same episode or feed at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import psycopg

from core.store.postgres_store import PostgresStore

log = logging.getLogger(__name__)


class Locks(Protocol):
    """`hold(name)` yields True when this caller got the lock, False when someone holds it."""

    def hold(self, name: str) -> AbstractAsyncContextManager[bool]: ...


class LocalLocks:
    """Locks within one process (tests, and one worker on its own)."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        """True and held for the block, or False at once when taken."""
        if name in self.held:
            yield False
            return
        self.held.add(name)
        try:
            yield True
        finally:
            self.held.discard(name)


class AdvisoryLocks:
    """PostgreSQL session advisory locks, each on its own pooled connection.

    The database drops a lock when its session ends, so a worker killed with -9 frees its
    episode for the redelivered message without anyone cleaning up.
    """

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        """True and held for the block, or False at once when another session holds it."""
        async with self.store.connection() as conn:
            row = await (await conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,))).fetchone()
            got = bool(row and row[0])
            try:
                yield got
            finally:
                if got:
                    await _unlock(conn, name)


async def _unlock(conn: psycopg.AsyncConnection, name: str) -> None:
    try:
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))
    except psycopg.Error as exc:  # the session is gone, and its locks with it
        log.info("advisory unlock of %s failed (%s): dropping the connection", name, exc)
        await conn.close()  # never hand a connection that may still hold the lock back to the pool
