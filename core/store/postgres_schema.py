"""PostgresStore's schema: numbered migrations applied once each, under a lock, at start."""

from __future__ import annotations

import logging
import re

from psycopg import AsyncConnection, sql

log = logging.getLogger(__name__)

SCHEMA_LOCK = 0x0CA57F1E  # pg_advisory_xact_lock key: one process migrates at a time
TABLE_PREFIX = "doc_"  # a store table `feeds` is the SQL table `doc_feeds`
_TABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,50}")  # quoted, so any of these is safe

# Append only: a released migration is never edited, a change is a new number.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
        CREATE TABLE castfive_blobs (
            name text PRIMARY KEY,
            codec text NOT NULL,           -- 'zlib': transcripts shrink about 4x
            size integer NOT NULL,         -- uncompressed bytes
            data bytea NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now()
        )
    """),
    (2, """
        CREATE TABLE castfive_workers (    -- heartbeats: what /healthz shows as workers seen
            name text PRIMARY KEY,
            queues text NOT NULL,
            seen_at timestamptz NOT NULL
        )
    """),
)


def is_valid_table_name(name: str) -> bool:
    """A store table name we map to an SQL table: letters, digits, `_ . -`, at most 51 characters."""
    return isinstance(name, str) and _TABLE_NAME.fullmatch(name) is not None


def table_identifier(name: str) -> sql.Identifier:
    """The quoted SQL name of a store table."""
    return sql.Identifier(TABLE_PREFIX + name)


def create_table_sql(name: str) -> sql.Composed:
    """DDL of one store table: insertion order (id), key, JSONB document."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} ("
        " id bigserial PRIMARY KEY, key text NOT NULL UNIQUE, doc jsonb NOT NULL)"
    ).format(table_identifier(name))


async def migrate(conn: AsyncConnection) -> int:
    """Apply every migration newer than the database's version; returns the version after."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS castfive_schema (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM castfive_schema")
        row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, statement in MIGRATIONS:
            if version > current:
                await conn.execute(statement.encode())
                await conn.execute("INSERT INTO castfive_schema (version) VALUES (%s)", (version,))
                log.info("database schema migrated to version %d", version)
                current = version
    return current


async def create_table(conn: AsyncConnection, name: str) -> None:
    """Create one store table if missing (locked: concurrent CREATE IF NOT EXISTS can collide)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await conn.execute(create_table_sql(name))
