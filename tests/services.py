"""Real PostgreSQL and Redis servers on free loopback ports, for tests marked `services`.

The servers start once per session from the installed binaries (initdb + pg_ctl, redis-server),
or come from CASTFIVE_TEST_DATABASE_URL / CASTFIVE_TEST_REDIS_URL when those are set. Where the
binaries are missing the tests skip, except with CI=true, where a skip would hide a broken
setup and so fails instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "castfive"
PG_PASSWORD = "pg-test-secret-5d1c"  # tests check this never reaches a log line
_databases = itertools.count(1)


def unavailable(reason: str) -> None:
    """Skip, or with CI=true fail: CI installs the servers, so a skip there is a broken setup."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"services test cannot run in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class PostgresServer:
    """A throwaway cluster: its port, socket folder and admin connection."""

    port: int
    folder: Path
    pg_ctl: str

    def url(self, database: str = "castfive") -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.folder), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)

    def stop(self) -> None:
        subprocess.run(_as_postgres([self.pg_ctl, "-D", str(self.folder / "db"), "-m", "immediate",
                                     "stop"]), capture_output=True, timeout=60)

    def start(self) -> None:
        log = self.folder / "pg.log"
        subprocess.run(_as_postgres([
            self.pg_ctl, "-D", str(self.folder / "db"), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                  " -c max_connections=200",
            "start"]), check=True, capture_output=True, timeout=90)


def _start_postgres() -> PostgresServer:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        unavailable("PostgreSQL is not installed (apt-get install -y postgresql)")
    assert initdb and pg_ctl
    folder = Path(tempfile.mkdtemp(prefix="castfive-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(_as_postgres([initdb, "-D", str(folder / "db"), "-U", "postgres", "-E", "UTF8",
                                 "--auth-local=trust", "--auth-host=scram-sha-256"]),
                   check=True, capture_output=True, timeout=120)
    server = PostgresServer(free_port(), folder, pg_ctl)
    server.start()
    server.admin(f"CREATE ROLE {PG_USER} LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'")
    return server


@dataclass
class RedisServer:
    """A redis-server with append-only persistence, so a restart keeps the queues."""

    port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """The session's PostgreSQL (a URL string when CASTFIVE_TEST_DATABASE_URL is given)."""
    given = os.environ.get("CASTFIVE_TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = _start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | str) -> str:
    """A fresh, empty database of its own for this test."""
    if isinstance(postgres_server, str):
        return postgres_server
    name = f"t{os.getpid()}_{next(_databases)}"
    postgres_server.admin(f"CREATE DATABASE {name} OWNER {PG_USER} TEMPLATE template0")
    return postgres_server.url(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | str]:
    """The session's Redis (a URL string when CASTFIVE_TEST_REDIS_URL is given)."""
    given = os.environ.get("CASTFIVE_TEST_REDIS_URL")
    if given:
        yield given
        return
    if not shutil.which("redis-server"):
        unavailable("redis-server is not installed (apt-get install -y redis-server)")
    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="castfive-redis-")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer | str) -> str:
    """The session's Redis, emptied for this test."""
    import redis

    url = redis_server if isinstance(redis_server, str) else redis_server.url
    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()
    return url
