"""Shared fixtures: the real-world corpus beside the checkout, fake store and clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
DATA = Path(__file__).resolve().parent / "data"

# Shared fixtures (fake_telegram, fake_llm, http_server): test modules use them by name, no import.
pytest_plugins = [  # the shared fakes, registered once so every test module can use their fixtures
    "tests.fakes.telegram_api",
    "tests.fakes.fake_llm_server",
    "tests.fakes.http_server",
    "tests.fakes.discord_api",
    "tests.fakes.discord_world",
    "tests.e2e.fixtures",
    "tests.services",  # real PostgreSQL and Redis for tests marked `services`
]


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus; the test is skipped when a fresh clone has no such folder."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(params=["copy", "corpus"])
def transcripts(request: pytest.FixtureRequest) -> Path:
    """Publisher transcripts: the tests/data copy, then the corpus original (skipped where absent)."""
    if request.param == "corpus":
        return request.getfixturevalue("corpus") / "transcripts"
    return DATA / "transcripts"


@pytest.fixture
def fake_store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
