"""compose.yaml, the Procfile and the Dockerfile: what they start is what the code accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser
from core.config import load_settings
from core.jobs.distributed.dispatch import STAGES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def test_compose_runs_postgres_redis_the_bot_and_two_workers_with_health_checks(compose) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "bot", "transcriber", "extractor"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    assert "--appendonly" in services["redis"]["command"]  # queued messages survive a restart
    for name in ("bot", "transcriber", "extractor"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        assert any(v.endswith(":/app/data") for v in services[name]["volumes"]), name
    assert set(compose["volumes"]) >= {"postgres-data", "redis-data"}


def test_compose_workers_take_every_queue_between_them_with_commands_the_cli_accepts(compose) -> None:
    queues: set[str] = set()
    for name in ("transcriber", "extractor"):
        command = compose["services"][name]["command"]
        assert command[:2] == ["castfive", "worker"]
        args = build_parser().parse_args(command[1:])
        queues |= set(args.queues.split(","))
    assert queues == set(STAGES)
    assert compose["services"]["bot"]["command"] == ["python", "-m", "bot"]


def test_compose_takes_secrets_from_the_environment_and_the_config_is_distributed(compose) -> None:
    text = (REPO / "compose.yaml").read_text()
    env = compose["services"]["bot"]["environment"]
    assert "${CASTFIVE_DB_PASSWORD" in env["CASTFIVE_DATABASE_URL"]
    assert env["TELEGRAM_BOT_TOKEN"] == "${TELEGRAM_BOT_TOKEN:-}"
    assert not re.search(r"://[^:/@\s]+:(?!\$\{)[^@\s]*@", text)  # a password in a URL is ${...}
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")
    mounted = [v for v in compose["services"]["bot"]["volumes"] if v.endswith(":/app/castfive.toml:ro")]
    assert mounted and env["CASTFIVE_CONFIG"] == "/app/castfive.toml"
    environ = {"CASTFIVE_DATABASE_URL": "postgresql://u:p@h/d", "CASTFIVE_REDIS_URL": "redis://r"}
    settings = load_settings(REPO / "deploy" / "castfive.toml", environ=environ)
    assert settings.distributed.mode == "distributed" and settings.health.enabled


def test_the_procfile_names_the_bot_and_both_workers_with_valid_commands() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines() if line)
    assert lines["worker"] == "python -m bot"
    for role in ("transcriber", "extractor"):
        argv = shlex.split(lines[role])
        assert argv[:2] == ["castfive", "worker"]
        build_parser().parse_args(argv[1:])


def test_the_dockerfile_serves_both_roles_from_one_image() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "bot"]' in text
    assert "pip install --no-cache-dir ." in text  # the `castfive` script the workers run
