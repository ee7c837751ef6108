"""`castfive worker` and `castfive store migrate` refuse clearly before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

DISTRIBUTED = '[distributed]\nmode = "distributed"\n'


@pytest.fixture
def urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASTFIVE_DATABASE_URL", "postgresql://castfive:pw@127.0.0.1:1/castfive")
    monkeypatch.setenv("CASTFIVE_REDIS_URL", "redis://127.0.0.1:1/0")


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "castfive.toml"
    path.write_text(f'[data]\ndir = "{tmp_path / "data"}"\n' + body)
    return str(path)


def test_a_worker_in_local_mode_says_what_to_set(tmp_path, capsys) -> None:
    assert main(["--config", write(tmp_path, ""), "worker"]) == 2
    assert 'mode = "distributed"' in capsys.readouterr().err


def test_a_worker_for_an_unknown_queue_names_the_choices(tmp_path, capsys, urls) -> None:
    assert main(["--config", write(tmp_path, DISTRIBUTED), "worker", "--queues", "transcribe,gpu"]) == 2
    err = capsys.readouterr().err
    assert "unknown queue(s) gpu" in err and "poll, transcribe, extract" in err


def test_a_worker_needs_at_least_one_process_and_thread(tmp_path, capsys, urls) -> None:
    assert main(["--config", write(tmp_path, DISTRIBUTED), "worker", "--processes", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_migrate_without_a_target_names_the_variable(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CASTFIVE_DATABASE_URL", raising=False)
    assert main(["--config", write(tmp_path, ""), "store", "migrate"]) == 2
    assert "CASTFIVE_DATABASE_URL" in capsys.readouterr().err


def test_migrate_of_a_folder_without_a_database_is_one_clear_line(tmp_path, capsys) -> None:
    code = main(["--config", write(tmp_path, ""), "store", "migrate", "--to",
                 "postgresql://castfive:pw-x1@127.0.0.1:1/castfive?connect_timeout=1"])
    err = capsys.readouterr().err
    assert code == 1 and err == f"castfive: There is no Castfive database in {tmp_path / 'data'}.\n"


@pytest.mark.services
def test_scan_in_distributed_mode_queues_the_work_instead_of_doing_it(
        tmp_path, capsys, monkeypatch, postgres_url, redis_url) -> None:
    import asyncio

    import redis

    from core.models import EpisodeState
    from core.store.postgres_store import PostgresStore
    from core.store.repos import Repos
    from tests.distributed_world import seed_episodes

    async def seed() -> list[str]:
        store = PostgresStore(postgres_url)
        await store.start()
        ids = await seed_episodes(store, tmp_path, 3)
        await store.close()
        return ids

    async def states() -> set[str]:
        store = PostgresStore(postgres_url)
        await store.start()
        found = {str(e.state) for e in await Repos(store).episodes.all()}
        await store.close()
        return found

    asyncio.run(seed())
    monkeypatch.setenv("CASTFIVE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CASTFIVE_REDIS_URL", redis_url)
    config = write(tmp_path, DISTRIBUTED + "[insights]\nembeddings = false\n")
    assert main(["--config", config, "scan"]) == 0
    assert "Queued 0 feed poll(s) and 3 episode(s) for the workers" in capsys.readouterr().err
    assert redis.Redis.from_url(redis_url).hlen("dramatiq:transcribe.msgs") == 3
    assert asyncio.run(states()) == {str(EpisodeState.NEW)}  # nothing processed here
