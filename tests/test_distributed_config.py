"""[distributed] settings and the two URLs: from the environment only, never shown with a password."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.logging_setup import setup_logging
from core.config import load_settings
from core.dsn import mask_dsn, url_secrets
from core.errors import ConfigError, StoreError

URLS = {"CASTFIVE_DATABASE_URL": "postgresql://castfive:pw-9f8e@db:5432/castfive",
        "CASTFIVE_REDIS_URL": "redis://:rpw-77@redis:6379/0"}


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "castfive.toml"
    path.write_text(body)
    return path


def test_the_default_is_local_and_needs_neither_url(tmp_path) -> None:
    settings = load_settings(config(tmp_path, ""), environ={})
    assert settings.distributed.mode == "local"


def test_distributed_mode_reads_both_urls_from_the_environment(tmp_path) -> None:
    settings = load_settings(config(tmp_path, '[distributed]\nmode = "distributed"\n'), environ=URLS)
    assert settings.secrets.database_url == URLS["CASTFIVE_DATABASE_URL"]
    assert settings.secrets.redis_url == URLS["CASTFIVE_REDIS_URL"]
    assert "pw-9f8e" not in repr(settings)


def test_distributed_mode_without_the_urls_names_the_variables(tmp_path) -> None:
    with pytest.raises(ConfigError, match="CASTFIVE_DATABASE_URL and CASTFIVE_REDIS_URL"):
        load_settings(config(tmp_path, '[distributed]\nmode = "distributed"\n'),
                      environ={"CASTFIVE_DATABASE_URL": URLS["CASTFIVE_DATABASE_URL"]})


def test_an_unknown_mode_names_the_key_and_the_choices(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"distributed\.mode must be one of local, distributed"):
        load_settings(config(tmp_path, '[distributed]\nmode = "cluster"\n'), environ=URLS)


def test_a_url_shown_anywhere_is_masked() -> None:
    assert mask_dsn(URLS["CASTFIVE_DATABASE_URL"]) == "postgresql://castfive:***@db:5432/castfive"
    assert mask_dsn(URLS["CASTFIVE_REDIS_URL"]) == "redis://:***@redis:6379/0"
    assert mask_dsn("postgresql://db/castfive?password=x") == "postgresql://db/castfive"
    assert mask_dsn("host=db password=x") == "<connection string>"
    assert url_secrets(*URLS.values()) == ("pw-9f8e", "rpw-77")


def test_a_log_line_with_either_url_never_shows_its_password(capsys) -> None:
    setup_logging(logging.INFO, url_secrets(*URLS.values()))
    log = logging.getLogger("castfive.test")
    log.warning("connecting to %s and %s", URLS["CASTFIVE_DATABASE_URL"], URLS["CASTFIVE_REDIS_URL"])
    log.warning("password is pw-9f8e")  # even outside a URL, as a driver's message might put it
    err = capsys.readouterr().err
    assert "pw-9f8e" not in err and "rpw-77" not in err and "connecting to" in err


def test_every_process_masks_the_database_and_broker_passwords_as_written_and_decoded() -> None:
    """libpq repeats a password it cannot decode ('invalid percent-encoded token: "ab%zz1"')."""
    settings = load_settings(None, {"CASTFIVE_DATABASE_URL": "postgresql://u:ab%zz12secret@db/c",
                                    "CASTFIVE_REDIS_URL": "redis://:r%40pw-77@redis:6379/0"})
    masked = settings.secrets.for_log_scrubbing()
    assert {"ab%zz12secret", "r%40pw-77", "r@pw-77"} <= set(masked)


def test_the_castfive_command_never_logs_the_database_password(tmp_path) -> None:
    import os
    import subprocess
    import sys

    secret = "ab%zz12secret"
    script = ("import logging, sys; from bot import cli; cli.setup_logging = (lambda real: "
              "lambda level, secrets: (real(level, secrets), logging.getLogger('psycopg.pool').error("
              f"'error connecting: invalid percent-encoded token: \"{secret}\"')))(cli.setup_logging); "
              "sys.exit(cli.main(['--config', sys.argv[1], 'poll']))")
    body = config(tmp_path, f'[data]\ndir = "{tmp_path / "data"}"\n')
    env = {**os.environ, "CASTFIVE_DATABASE_URL": f"postgresql://u:{secret}@127.0.0.1:9/c"}
    done = subprocess.run([sys.executable, "-c", script, str(body)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert "invalid percent-encoded token" in done.stderr
    assert secret not in done.stderr and "zz12secret" not in done.stderr


@pytest.mark.services
async def test_a_wrong_database_password_is_one_clear_error_without_it(postgres_url) -> None:
    from core.store.postgres_store import PostgresStore

    wrong = postgres_url.replace("pg-test-secret", "not-the-secret")
    store = PostgresStore(wrong, retry_delays_s=(), connect_timeout_s=3.0)
    with pytest.raises(StoreError) as err:
        await store.start()
    assert "not-the-secret" not in str(err.value) and ":***@127.0.0.1" in str(err.value)


@pytest.mark.services
async def test_the_worker_health_check_sees_only_a_recent_heartbeat_from_its_host(
        postgres_url, monkeypatch) -> None:
    import asyncio
    import socket

    from core.jobs.distributed.alive import main as alive
    from core.store.postgres_store import PostgresStore

    store = PostgresStore(postgres_url)
    await store.start()  # the schema, with its heartbeat table
    monkeypatch.setenv("CASTFIVE_DATABASE_URL", postgres_url)
    assert await asyncio.to_thread(alive) == 1  # no worker yet
    async with store.connection() as conn:
        await conn.execute("INSERT INTO castfive_workers VALUES (%s, 'extract', now())",
                           (f"{socket.gethostname()}:123",))
        await conn.execute("INSERT INTO castfive_workers VALUES ('elsewhere:1', 'extract', now())")
    assert await asyncio.to_thread(alive) == 0
    async with store.connection() as conn:
        await conn.execute("UPDATE castfive_workers SET seen_at = now() - interval '2 minutes'"
                           " WHERE name <> 'elsewhere:1'")
    assert await asyncio.to_thread(alive) == 1  # another host's worker does not count
    monkeypatch.delenv("CASTFIVE_DATABASE_URL")
    assert await asyncio.to_thread(alive) == 1
    await store.close()
