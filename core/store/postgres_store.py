"""PostgresStore: the Store port on PostgreSQL (psycopg 3 async + pool), for several machines."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from itertools import groupby
from typing import TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core.dsn import mask_dsn
from core.errors import StoreError
from core.ports import Change, Doc
from core.store.atomic_json import encode_doc
from core.store.postgres_schema import (
    create_table,
    is_valid_table_name,
    migrate,
    table_identifier,
)
from core.store.tinydb_store import is_valid_blob_name

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # ~30 s: a database restart, not an outage
BLOB_CODEC = "zlib"
_INLINE_BYTES = 65536  # bigger blobs (de)compress in a thread so the loop keeps ticking
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped U+0000, not an escaped backslash


class PostgresStore:
    """Documents as JSONB rows, one SQL table per store table, blobs zlib-compressed in bytea.

    `apply` is one transaction. Every operation retries on a lost connection with backoff
    (writes are idempotent: putting or deleting the same keys again ends in the same state),
    so a database restart mid-run delays work instead of failing it.
    """

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8,
                 retry_delays_s: Sequence[float] = RETRY_DELAYS_S, connect_timeout_s: float = 30.0) -> None:
        self._dsn = dsn
        self.safe_dsn = mask_dsn(dsn)
        self._min_size = min_size
        self._max_size = max_size
        self._retry_delays_s = tuple(retry_delays_s)
        self._connect_timeout_s = connect_timeout_s
        self._pool: AsyncConnectionPool | None = None
        self._tables: set[str] = set()  # store tables known to exist
        self.schema_version = 0

    # --- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the pool and bring the schema up to date."""
        if self._pool is not None:
            return
        pool = AsyncConnectionPool(
            self._dsn, min_size=self._min_size, max_size=self._max_size, open=False,
            kwargs={"autocommit": True}, check=AsyncConnectionPool.check_connection,
            name="castfive-store",
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout_s)
        except (psycopg.Error, PoolTimeout) as exc:  # these name the host, never the password
            await pool.close()
            raise StoreError(f"The database at {self.safe_dsn} cannot be reached: {_reason(exc)}.") from exc
        self._pool = pool
        self.schema_version = await self._run(migrate)
        log.info("store open database=%s schema=%d", self.safe_dsn, self.schema_version)

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # --- reads -------------------------------------------------------------------

    async def get(self, table: str, key: str) -> Doc | None:
        """The document under `key`, or None."""
        _check_table(table)

        async def read(conn: AsyncConnection) -> Doc | None:
            query = sql.SQL("SELECT doc FROM {} WHERE key = %s").format(table_identifier(table))
            row = await (await conn.execute(query, (key,))).fetchone()
            return None if row is None else row[0]

        return await self._read(table, read, None)

    async def all(self, table: str) -> list[Doc]:
        """Every document of a table, in insertion order."""
        _check_table(table)

        async def read(conn: AsyncConnection) -> list[Doc]:
            query = sql.SQL("SELECT doc FROM {} ORDER BY id").format(table_identifier(table))
            return [row[0] for row in await (await conn.execute(query)).fetchall()]

        return await self._read(table, read, [])

    async def items(self, table: str) -> list[tuple[str, Doc]]:
        """Every (key, document) pair of a table, in insertion order."""
        _check_table(table)

        async def read(conn: AsyncConnection) -> list[tuple[str, Doc]]:
            query = sql.SQL("SELECT key, doc FROM {} ORDER BY id").format(table_identifier(table))
            return [(row[0], row[1]) for row in await (await conn.execute(query)).fetchall()]

        none: list[tuple[str, Doc]] = []
        return await self._read(table, read, none)

    async def batches(self, table: str, size: int = 2000) -> AsyncIterator[list[Doc]]:
        """Every document a batch at a time (keyset pages, so a huge ledger never sits in memory)."""
        _check_table(table)
        after = 0

        async def page(conn: AsyncConnection) -> list[tuple[int, Doc]]:
            query = sql.SQL("SELECT id, doc FROM {} WHERE id > %s ORDER BY id LIMIT %s").format(
                table_identifier(table))
            return [(r[0], r[1]) for r in await (await conn.execute(query, (after, size))).fetchall()]

        while True:
            none: list[tuple[int, Doc]] = []
            rows = await self._read(table, page, none)
            if not rows:
                return
            after = rows[-1][0]
            yield [doc for _, doc in rows]

    async def count(self, table: str) -> int:
        """How many documents a table holds."""
        _check_table(table)

        async def read(conn: AsyncConnection) -> int:
            row = await (await conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(table_identifier(table)))).fetchone()
            return int(row[0]) if row else 0

        return await self._read(table, read, 0)

    async def table_names(self) -> list[str]:
        """The store tables that exist, by name."""

        async def read(conn: AsyncConnection) -> list[str]:
            rows = await (await conn.execute(
                "SELECT substr(tablename, 5) FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename LIKE 'doc\\_%' ORDER BY tablename")).fetchall()
            return [r[0] for r in rows]

        return await self._run(read)

    async def _read(self, table: str, read: Callable[[AsyncConnection], Awaitable[T]], missing: T) -> T:
        async def attempt(conn: AsyncConnection) -> T:
            try:
                return await read(conn)
            except psycopg.errors.UndefinedTable:
                return missing  # nothing was ever written to this table

        return await self._run(attempt)

    # --- writes -------------------------------------------------------------------

    async def put(self, table: str, key: str, doc: Doc) -> None:
        """Store `doc` under `key`; durable on return."""
        await self.apply([Change(table, key, doc)])

    async def delete(self, table: str, key: str) -> None:
        """Remove `key` (no error if absent); durable on return."""
        await self.apply([Change(table, key, None)])

    async def apply(self, changes: Sequence[Change]) -> None:
        """Apply all changes or none, in one transaction; durable on return."""
        writes = [_validate(change) for change in changes]
        if not writes:
            return
        for name in {w[0] for w in writes} - self._tables:
            await self._run(functools.partial(create_table, name=name))
            self._tables.add(name)

        async def commit(conn: AsyncConnection) -> None:
            async with conn.transaction(), conn.cursor() as cur:
                # Runs of the same table and kind in their order, so later changes to a key win.
                for (table, is_put), run in groupby(writes, key=lambda w: (w[0], w[2] is not None)):
                    ident = table_identifier(table)
                    if is_put:
                        await cur.executemany(sql.SQL(
                            "INSERT INTO {} (key, doc) VALUES (%s, %s::jsonb)"
                            " ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc").format(ident),
                            [(k, text) for _, k, text in run])
                    else:
                        await cur.executemany(sql.SQL("DELETE FROM {} WHERE key = %s").format(ident),
                                              [(k,) for _, k, _ in run])

        await self._run(commit)

    # --- blobs ---------------------------------------------------------------------

    async def write_blob(self, name: str, data: bytes) -> None:
        """Write a blob, compressed, replacing any earlier one; durable on return."""
        _check_blob(name)
        raw = bytes(data)
        packed = await _off_loop_if_big(len(raw), zlib.compress, raw)

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(
                "INSERT INTO castfive_blobs (name, codec, size, data) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET codec = EXCLUDED.codec, size = EXCLUDED.size,"
                " data = EXCLUDED.data, written_at = now()", (name, BLOB_CODEC, len(raw), packed))

        await self._run(write)

    async def read_blob(self, name: str) -> bytes | None:
        """A blob's bytes, or None when there is none."""
        _check_blob(name)

        async def read(conn: AsyncConnection) -> tuple[str, int, bytes] | None:
            row = await (await conn.execute(
                "SELECT codec, size, data FROM castfive_blobs WHERE name = %s", (name,))).fetchone()
            return None if row is None else (row[0], row[1], bytes(row[2]))

        found = await self._run(read)
        if found is None:
            return None
        codec, size, packed = found
        if codec != BLOB_CODEC:
            raise StoreError(f"The file {name} is stored in an unknown format ({codec}).")
        data = await _off_loop_if_big(size, zlib.decompress, packed)
        if len(data) != size:
            raise StoreError(f"The file {name} is damaged in the database.")
        return data

    async def delete_blob(self, name: str) -> None:
        """Remove a blob (no error if absent)."""
        _check_blob(name)
        await self._run(lambda conn: conn.execute("DELETE FROM castfive_blobs WHERE name = %s", (name,)))

    async def blob_names(self) -> list[str]:
        """Every blob's name."""

        async def read(conn: AsyncConnection) -> list[str]:
            rows = await (await conn.execute("SELECT name FROM castfive_blobs ORDER BY name")).fetchall()
            return [r[0] for r in rows]

        return await self._run(read)

    # --- connections -------------------------------------------------------------------

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled autocommit connection for work beyond documents (advisory locks, heartbeats)."""
        if self._pool is None:
            raise StoreError("The store is not open.")
        async with self._pool.connection() as conn:
            yield conn

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` on a pooled connection, again with backoff while the database is away."""
        if self._pool is None:
            raise StoreError("The store is not open.")
        for delay in (*self._retry_delays_s, None):
            try:
                async with self._pool.connection() as conn:
                    return await work(conn)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if delay is None:
                    raise StoreError(f"The database is not answering: {_reason(exc)}.") from exc
                log.warning("database unavailable, retrying in %.1fs: %s", delay, _reason(exc))
                await asyncio.sleep(delay)
            except psycopg.Error as exc:
                raise StoreError(f"The database refused the change: {_reason(exc)}.") from exc
        raise AssertionError("unreachable")


async def _off_loop_if_big(size: int, work: Callable[[bytes], bytes], data: bytes) -> bytes:
    """(De)compress in a thread when big, so the loop keeps ticking; inline when small."""
    return await asyncio.to_thread(work, data) if size > _INLINE_BYTES else work(data)


def _check_table(table: str) -> None:
    if not is_valid_table_name(table):
        raise StoreError(f"Table name {table!r} is not valid.")


def _check_blob(name: str) -> None:
    if not is_valid_blob_name(name):
        raise StoreError(f"{name!r} is not a valid file name for the store.")


def _validate(change: Change) -> tuple[str, str, str | None]:
    _check_table(change.table)
    if not isinstance(change.key, str):
        raise StoreError(f"Key {change.key!r} in {change.table} is not a string.")
    if change.doc is None:
        return change.table, change.key, None
    if not isinstance(change.doc, dict):
        raise StoreError(f"Document {change.key} in {change.table} is not a mapping.")
    try:
        text = encode_doc(change.doc)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"Document {change.key} in {change.table} is not JSON: {exc}.") from exc
    if _NUL.search(text):  # JSONB cannot hold U+0000 (encode_doc writes it as an escape)
        raise StoreError(f"Document {change.key} in {change.table} holds a NUL character.")
    return change.table, change.key, text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else "") or type(exc).__name__

