"""tests/services.py: a services test skips where the servers are missing, and fails in CI."""

from __future__ import annotations

import pytest

from tests.services import unavailable


def test_without_the_servers_a_services_test_skips_locally(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("PostgreSQL is not installed")


def test_without_the_servers_a_services_test_fails_in_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: PostgreSQL is not installed"):
        unavailable("PostgreSQL is not installed")
