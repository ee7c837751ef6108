"""`castfive store migrate`: grow a single-machine install onto PostgreSQL without starting over."""

from __future__ import annotations

import argparse
import asyncio
import sys

from core.config import Settings
from core.dsn import DATABASE_URL_ENV, mask_dsn


def add_store_parser(sub: argparse._SubParsersAction) -> None:
    """Register `castfive store migrate`."""
    store = sub.add_parser("store", help="move the data to another store").add_subparsers(
        dest="action", required=True)
    migrate = store.add_parser("migrate", help="copy this install's TinyDB data into PostgreSQL")
    migrate.add_argument("--to", metavar="POSTGRES_URL", default="",
                         help=f"target database (default: ${DATABASE_URL_ENV}; prefer the variable, "
                              "since a password in a command line shows in the process list)")


def run_store(args: argparse.Namespace, settings: Settings) -> int:
    """Copy [data] dir's TinyDB store into the target database and print the verification."""
    target = args.to or settings.secrets.database_url
    if not target:
        print(f"castfive: give --to postgresql://... or set {DATABASE_URL_ENV}", file=sys.stderr)
        return 2
    return asyncio.run(_migrate(settings, target))


async def _migrate(settings: Settings, url: str) -> int:
    from core.jobs.distributed.migrate import check_source, migrate_store
    from core.store.postgres_store import PostgresStore

    check_source(settings.data_dir)
    store = PostgresStore(url)
    await store.start()
    try:
        report = await migrate_store(settings.data_dir, store)
    finally:
        await store.close()
    for name, count in sorted(report.tables.items()):
        print(f"  {name:<16} {count:>9} documents")
    print(f"  {'blobs':<16} {report.blobs:>9} files ({report.blob_bytes / 1e6:.1f} MB)")
    if report.mismatches:
        for line in report.mismatches:
            print(f"castfive: verification failed: {line}", file=sys.stderr)
        return 1
    total = sum(report.tables.values())
    print(f"Copied {total} documents and {report.blobs} blobs into {mask_dsn(url)} in "
          f"{report.seconds:.1f}s; counts and checksums match.")
    return 0
