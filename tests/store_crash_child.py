"""Crash-test child: writes through TinyDBStore and dies (os._exit) at a chosen point of a write.

Usage: python tests/store_crash_child.py DIR journal|whole|blob
Environment: CASTFIVE_CRASH_POINT names the fault point ("journal-mid-append",
"journal-before-fsync", "snapshot-before-truncate", "before-rename", "between-renames",
"file-before-rename"); CASTFIVE_CRASH_AT says on which visit to that point the process dies.
In journal mode the store folds its journal into a snapshot every few kilobytes, so crashes
mid-snapshot are reachable. Prints one "ack <table> <key>" (or "ack blob <content>") line per
acknowledged write.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.ports import Change
from core.store import atomic_json
from core.store.tinydb_store import TinyDBStore

CRASH_POINT = "CASTFIVE_CRASH_POINT"
CRASH_AT = "CASTFIVE_CRASH_AT"
WRITERS = 20
WRITES_EACH = 50
FOLD_EVERY_BYTES = 8192  # journal mode: a snapshot every few dozen commits


def install_crash() -> None:
    """Die without any cleanup the Nth time the named fault point is reached."""
    point, at = os.environ.get(CRASH_POINT, ""), int(os.environ.get(CRASH_AT, "0"))
    visits = 0

    def hook(name: str) -> None:
        nonlocal visits
        if name == point:
            visits += 1
            if visits == at:
                os._exit(1)  # like a power cut: no flush, no finally, no atexit

    atomic_json.fault_hook = hook


def ack(line: str) -> None:
    sys.stdout.write(f"ack {line}\n")
    sys.stdout.flush()


async def write_documents(store: TinyDBStore) -> None:
    async def writer(w: int) -> None:
        for j in range(WRITES_EACH):
            key = f"w{w:02d}-{j:03d}"
            # Each batch also moves the writer's counter: an old record replayed over newer
            # state would move it back, and a torn batch would leave it out of step with "a".
            counter = Change("last", f"w{w:02d}", {"j": j})
            if j % 2:  # a pair across two tables: both or neither
                await store.apply([Change("a", key, {"k": key, "n": j}),
                                   Change("b", key, {"k": key, "n": j}), counter])
                ack(f"a {key}")
                ack(f"b {key}")
            else:
                await store.apply([Change("a", key, {"k": key, "n": j, "text": "x" * 200}), counter])
                ack(f"a {key}")

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))


async def write_blobs(store: TinyDBStore) -> None:
    for version in ("old", "new"):
        await store.write_blob("transcript.json", version.encode() * 100_000)
        ack(f"blob {version}")


async def main(directory: Path, mode: str) -> None:
    install_crash()
    store = TinyDBStore(directory, journal=mode != "whole", journal_min_bytes=FOLD_EVERY_BYTES,
                        journal_ratio=0.0)
    await store.start()
    await (write_blobs(store) if mode == "blob" else write_documents(store))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
