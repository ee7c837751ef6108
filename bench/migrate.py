"""`castfive store migrate` speed: a TinyDB install of realistic shape copied into PostgreSQL.

    python bench/migrate.py [--scale 1.0]

At scale 1: 10,000 subscribers, 100,000 ledger entries, 20,000 insights, 2,000 episodes and 2,000
transcript blobs of ~40 KB. Prints documents per second and, as the reference measured in the
same run, how long TinyDB itself takes to open that install (migrate time / open time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.jobs.distributed.migrate import migrate_store  # noqa: E402
from core.ports import Change  # noqa: E402
from core.store.postgres_store import PostgresStore  # noqa: E402
from core.store.tinydb_store import TinyDBStore  # noqa: E402
from tests.services import _pg_bin, _start_postgres  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_needs.py
from _needs import Need, require  # noqa: E402

# PostgreSQL's initdb lives in /usr/lib/postgresql/*/bin on Debian, off PATH: tests/services finds it.
POSTGRES = Need("PostgreSQL", "apt-get install postgresql", lambda: _pg_bin("initdb") is not None,
                apt="postgresql")
NEEDS = (POSTGRES,)


async def build(directory: Path, scale: float) -> int:
    store = TinyDBStore(directory)
    await store.start()
    sizes = {"subscribers": 10_000, "ledger": 100_000, "insights": 20_000, "episodes": 2_000}
    total = 0
    for table, count in sizes.items():
        count = int(count * scale)
        for start in range(0, count, 5000):
            await store.apply([Change(table, f"{table[:3]}{i:07d}", _doc(table, i))
                               for i in range(start, min(count, start + 5000))])
        total += count
    segment = {"start": 1.0, "end": 4.0, "text": "Battery prices fell ninety percent in ten years."}
    blob = json.dumps({"segments": [segment] * 500}).encode()
    for i in range(int(2000 * scale)):
        await store.write_blob(f"transcript-ep{i:07d}.json", blob)
    await store.close()
    return total


def _doc(table: str, i: int) -> dict:
    if table == "ledger":
        return {"subscriber_id": f"telegram:{i % 10_000}", "local_date": f"2026-11-{i % 28 + 1:02d}",
                "messages": [{"insight_id": f"ins{i * 5 + k:07d}", "state": "sent",
                              "message_ids": [str(i * 5 + k)]} for k in range(5)], "finished": True}
    if table == "insights":
        return {"id": f"ins{i:07d}", "episode_id": f"epi{i // 10:07d}", "text": "A claim " * 8,
                "quote": "A verbatim quote " * 6, "start": 12.5, "end": 20.0, "score": 0.71}
    return {"id": f"{table[:3]}{i:07d}", "title": f"Item {i}", "tz": "Europe/Paris", "weights": {"a": 0.5}}


async def main() -> None:
    require(__file__, NEEDS)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="castfive-bench-migrate-"))
    documents = await build(folder / "data", args.scale)
    began = time.monotonic()
    opened = TinyDBStore(folder / "data")
    await opened.start()
    open_s = time.monotonic() - began
    await opened.close()
    given = os.environ.get("CASTFIVE_TEST_DATABASE_URL", "")
    server = None if given else _start_postgres()
    if server is not None:
        server.admin("CREATE DATABASE bench_migrate OWNER castfive TEMPLATE template0")
    url = given or (server.url("bench_migrate") if server else "")
    target = PostgresStore(url)
    await target.start()
    try:
        report = await migrate_store(folder / "data", target)
    finally:
        await target.close()
        if server is not None:
            server.stop()
    assert not report.mismatches, report.mismatches
    print(f"bench/migrate.py: {documents} documents, {report.blobs} blobs "
          f"({report.blob_bytes / 1e6:.0f} MB) copied and verified in {report.seconds:.1f}s "
          f"({documents / report.seconds:,.0f} documents/s); TinyDB opens the same install in "
          f"{open_s:.1f}s (migrate = {report.seconds / open_s:.1f}x an open)")


if __name__ == "__main__":
    asyncio.run(main())
