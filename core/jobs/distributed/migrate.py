"""`castfive store migrate`: copy a single-machine TinyDB install into PostgreSQL, then verify.

The TinyDB store is opened and closed first, which folds its journal into the snapshot; the
snapshot is then read table by table, written to PostgreSQL in batches, and every table's count
and checksum (SHA-256 over its keys and canonical documents) compared, as is every blob's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import StoreError
from core.ports import Change, Doc
from core.store.atomic_json import DB_NAME, META_TABLE, SnapshotFile
from core.store.postgres_store import PostgresStore
from core.store.tinydb_store import BLOB_DIR, TinyDBStore, is_valid_blob_name

BATCH = 1000


@dataclass
class MigrationReport:
    """What was copied and how long it took; `mismatches` is empty when verification passed."""

    tables: dict[str, int] = field(default_factory=dict)  # documents per table
    blobs: int = 0
    blob_bytes: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)


def table_checksum(docs: Iterable[tuple[str, Doc]]) -> str:
    """SHA-256 of a table's (key, document) pairs, independent of order and key layout."""
    lines = sorted(json.dumps([key, doc], sort_keys=True, separators=(",", ":")) for key, doc in docs)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()


def check_source(data_dir: Path) -> None:
    """Raise StoreError unless `data_dir` holds a TinyDB install (checked before any connecting)."""
    if not (data_dir / DB_NAME).exists():
        raise StoreError(f"There is no Castfive database in {data_dir}.")


async def migrate_store(data_dir: Path, target: PostgresStore) -> MigrationReport:
    """Copy every table and blob of the TinyDB store in `data_dir` into `target` (open, empty)."""
    started = time.monotonic()
    check_source(data_dir)
    source = TinyDBStore(data_dir)
    await source.start()
    await source.close()  # folds the journal: the snapshot now holds every acknowledged write
    snapshot = await asyncio.to_thread(SnapshotFile(data_dir / DB_NAME).load)
    tables = {name: rows for name, rows in snapshot.tables.items() if name != META_TABLE}
    for name in tables:
        if await target.count(name):
            raise StoreError(f"The database already holds {name}: migrate into an empty database.")
    if await target.blob_names():
        raise StoreError("The database already holds transcripts: migrate into an empty database.")
    report = MigrationReport()
    for name, rows in tables.items():
        items = [(key, json.loads(text)) for key, (_, text) in sorted(rows.items(), key=lambda r: r[1][0])]
        for start in range(0, len(items), BATCH):  # insertion order kept, as TinyDB had it
            await target.apply([Change(name, key, doc) for key, doc in items[start:start + BATCH]])
        report.tables[name] = len(items)
        copied = await target.items(name)
        if len(copied) != len(items):
            report.mismatches.append(f"{name}: {len(items)} documents, {len(copied)} copied")
        elif table_checksum(items) != table_checksum(copied):
            report.mismatches.append(f"{name}: checksum differs")
    blob_dir = data_dir / BLOB_DIR
    for path in sorted(blob_dir.iterdir()) if blob_dir.is_dir() else []:
        if not path.is_file() or not is_valid_blob_name(path.name):
            continue
        data = await asyncio.to_thread(path.read_bytes)
        await target.write_blob(path.name, data)
        copied_blob = await target.read_blob(path.name)
        if copied_blob is None or hashlib.sha256(copied_blob).digest() != hashlib.sha256(data).digest():
            report.mismatches.append(f"blob {path.name}: checksum differs")
        report.blobs += 1
        report.blob_bytes += len(data)
    report.seconds = time.monotonic() - started
    return report

