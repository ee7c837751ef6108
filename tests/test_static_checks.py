"""Static checks that keep the code honest: mypy over core/ and bot/ with the settings in pyproject.toml."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mypy_finds_no_type_errors_in_core_and_the_adapters() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    # A cold run analyses every dependency they import (litellm, aiohttp, discord...): about a minute.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "core", "bot"],
        cwd=REPO, capture_output=True, text=True, timeout=540, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
