"""Fixtures for end-to-end runs: the local fakes, and service processes that never outlive a test.

tests/conftest.py registers this module as a plugin, so any test can use its fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.e2e.fakes import FeedServer, TimedTelegram
from tests.e2e.process import TELEGRAM_TOKEN, BotProcess, bot_env, write_config


@pytest_asyncio.fixture
async def telegram() -> AsyncIterator[TimedTelegram]:
    """The fake Telegram Bot API, recording when each message was delivered."""
    fake = TimedTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest_asyncio.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A local feed server; mount folders on it."""
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


BotFactory = Callable[..., BotProcess]


@pytest_asyncio.fixture
async def make_bot(tmp_path: Path) -> AsyncIterator[BotFactory]:
    """`make_bot(sections, **env)` -> a BotProcess (not started) with its config in tmp_path."""
    made: list[BotProcess] = []

    def factory(sections: Mapping[str, Mapping[str, Any]], **env: str) -> BotProcess:
        config = write_config(tmp_path, sections)
        env.setdefault("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
        bot = BotProcess(config, bot_env(**env), tmp_path)
        made.append(bot)
        return bot

    try:
        yield factory
    finally:
        for bot in made:  # a failed test must not leave a service running
            if bot.proc is not None and bot.proc.returncode is None:
                await bot.kill()
