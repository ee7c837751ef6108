"""Run `python -m bot` as a real subprocess and watch it: config, environment, log, /healthz.

- `BotProcess`: start/stop/kill the service; each run's stderr and stdout are kept in files
  (the log secrecy test reads them).
- `write_config`: a TOML config in a tmp dir (data dir, the fakes' URLs, one-second ticks).
- `wait_until` / `wait_health`: poll a condition, or /healthz, failing with the log's tail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TELEGRAM_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw7"  # shaped like a real one; fake


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(directory: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """castfive.toml in `directory` with a data dir beside it and the given sections."""
    merged: dict[str, dict[str, Any]] = {
        "data": {"dir": str(directory / "data")},
        "feeds": {"catalogue": [], "poll_check_seconds": 1.0},
        "delivery": {"tick_seconds": 1.0},
    }
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    lines = []
    for name, values in merged.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path = directory / "castfive.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def bot_env(**extra: str) -> dict[str, str]:
    """The environment for the service: no stray tokens from the caller, offline libraries."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "CASTFIVE_CONFIG", "CASTFIVE_CRASH_AT")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(REPO))
    env.update(extra)
    return env


class BotProcess:
    """`python -m bot --config PATH` as a subprocess; stderr and stdout go to files."""

    def __init__(self, config: Path, env: Mapping[str, str], log_dir: Path) -> None:
        self.config = config
        self.env = dict(env)
        self.log_dir = log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.extra_args: list[str] = []  # e.g. ["-v"]

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"bot-{self.runs}.stderr"

    async def start(self, *, config_via_env: bool = False) -> None:
        """Start (or restart) the service, naming the config by --config or $CASTFIVE_CONFIG."""
        self.runs += 1
        self._err = self.stderr_path.open("wb")
        self._out = (self.log_dir / f"bot-{self.runs}.stdout").open("wb")
        env, args = dict(self.env), ["--config", str(self.config)]
        if config_via_env:
            env["CASTFIVE_CONFIG"], args = str(self.config), []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, *self.extra_args,
            cwd=REPO, env=env, stdout=self._out, stderr=self._err,
        )

    def log_text(self, run: int | None = None) -> str:
        """What run `run` (default: the latest) wrote to stderr so far."""
        return (self.log_dir / f"bot-{run or self.runs}.stderr").read_text(errors="replace")

    def all_output(self) -> str:
        """Every run's stdout and stderr, joined."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("bot-*.std*")))

    async def wait_log(self, fragment: str, timeout: float = 30.0) -> None:
        """Wait until the latest run's stderr contains `fragment`; fail if it exits first."""
        deadline = time.monotonic() + timeout
        while fragment not in self.log_text():
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(f"service exited {self.proc.returncode} before {fragment!r}:\n"
                                     + self.log_text()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"no {fragment!r} in the log within {timeout}s:\n"
                                     + self.log_text()[-3000:])
            await asyncio.sleep(0.05)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig` and wait; returns (exit status, seconds it took)."""
        assert self.proc is not None
        began = time.monotonic()
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            tail = self.log_text()[-3000:]
            raise AssertionError(f"service did not stop within {timeout}s:\n{tail}") from None
        finally:
            self._close_files()
        return code, time.monotonic() - began

    async def kill(self) -> None:
        """SIGKILL: the crash."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        for handle in (self._err, self._out):
            handle.close()


async def wait_until(condition: Callable[[], bool], timeout: float, what: str,
                     bot: BotProcess | None = None) -> None:
    """Poll `condition` every 50 ms; fail naming `what` (with the log tail) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if bot is not None and bot.proc is not None and bot.proc.returncode is not None:
            raise AssertionError(f"service exited {bot.proc.returncode} while waiting for {what}:\n"
                                 + bot.log_text()[-3000:])
        if time.monotonic() > deadline:
            tail = bot.log_text()[-3000:] if bot else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")
        await asyncio.sleep(0.05)


# --- asking the running service how it is doing ------------------------------------------------


async def healthz(port: int) -> dict[str, Any] | None:
    """GET /healthz as JSON, or None while nothing answers."""
    import aiohttp

    try:
        url = f"http://127.0.0.1:{port}/healthz"
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            return dict(await resp.json())
    except (aiohttp.ClientError, ValueError):
        return None


async def wait_health(port: int, check: Callable[[dict[str, Any]], bool], timeout: float, what: str,
                      bot: BotProcess) -> dict[str, Any]:
    """Poll /healthz every 0.2 s until `check(body)`; fail naming `what` with the log tail."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] | None = None
    while True:
        body = await healthz(port)
        if body is not None and check(body):
            return body
        if bot.proc is not None and bot.proc.returncode is not None:
            raise AssertionError(f"service exited {bot.proc.returncode} while waiting for {what}:\n"
                                 + bot.log_text()[-3000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; /healthz said {body}\n"
                                 + bot.log_text()[-3000:])
        await asyncio.sleep(0.2)
