"""A full disk: `castfive scan` prints one clear line and fails; the bot logs it once a minute."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from core.errors import DiskFullError
from core.store.diskfull import reset_log_throttle
from core.store.repos import Repos
from tests.fakes.chat_port import FakeChatPort
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.seed import seed
from tests.test_delivery import make, subscribe

REPO = Path(__file__).resolve().parent.parent

# The disk fills up once the store is open (the way tests/test_tinydb_store.py simulates it): every
# later write, journal append or blob alike, fails with ENOSPC.
CHILD = """
import errno, sys
from core.store import atomic_json
import core.bootstrap as bootstrap

def disk_full(point):
    raise OSError(errno.ENOSPC, "No space left on device")

original_start = bootstrap.Services.start

async def start_then_fill(self):
    await original_start(self)
    atomic_json.fault_hook = disk_full

bootstrap.Services.start = start_then_fill
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_scan_on_a_full_disk_prints_one_line_and_fails(tmp_path: Path) -> None:
    config = tmp_path / "castfive.toml"
    config.write_text(f'[data]\ndir = "data"\n[feeds]\ncatalogue = ["{REPO / "examples/demo/feed.xml"}"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASTFIVE_", "TELEGRAM_", "DISCORD_"))}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"})
    run = subprocess.run([sys.executable, "-c", CHILD, "--config", str(config), "scan"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode != 0, run.stderr
    assert "Traceback" not in run.stderr and "StoreError" not in run.stderr, run.stderr
    problems = [line for line in lines
                if "full" in line or "space" in line.lower() or "error" in line.lower()]
    assert len(problems) == 1, run.stderr
    assert problems[0].startswith("castfive: the data folder is full: ") and " MB free" in problems[0]


def test_a_full_disk_is_logged_once_a_minute_not_once_per_operation(caplog) -> None:
    import errno

    from core.store.diskfull import is_disk_full, log_disk_full

    reset_log_throttle()
    log = logging.getLogger("castfive.test.diskfull")
    full = OSError(errno.ENOSPC, "No space left on device")
    with caplog.at_level(logging.DEBUG, logger=log.name):
        for _ in range(100):  # a hundred feeds failing in the same minute
            log_disk_full(log, full, "poll job")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "once a minute" in errors[0].getMessage()
    assert is_disk_full(full) and not is_disk_full(OSError(errno.EACCES, "denied"))
    reset_log_throttle()


class FillableStore(FakeStore):
    """The in-memory store with a disk that can fill up: every write fails while it is full."""

    full = False

    async def put(self, table: str, key: str, doc) -> None:
        if self.full:
            raise DiskFullError("the data folder is full: 0 MB free, need more to continue")
        await super().put(table, key, doc)

    async def delete(self, table: str, key: str) -> None:
        if self.full:
            raise DiskFullError("the data folder is full: 0 MB free, need more to continue")
        await super().delete(table, key)


async def test_a_delivery_round_on_a_full_disk_logs_one_line_and_delivers_once_space_returns(caplog) -> None:
    store, clock, port = FillableStore(), FakeClock(datetime(2026, 11, 28, 8, 1, tzinfo=UTC)), FakeChatPort()
    await seed(Repos(store))
    for n in range(20):
        await subscribe(store, str(n))
    delivery = make(store, clock, port)
    reset_log_throttle()
    store.full = True
    with caplog.at_level(logging.INFO):
        await delivery.tick()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "data folder is full" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)  # no traceback per subscriber
    store.full = False  # space freed: the next tick delivers without anyone stepping in
    clock.advance(minutes=1)
    await delivery.tick()
    assert {chat for chat, _ in port.sent} == {str(n) for n in range(20)}
    reset_log_throttle()
