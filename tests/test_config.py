"""Settings load from TOML plus environment, and wrong values fail naming the key and the file."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "castfive.toml"
    path.write_text(text)
    return path


def test_defaults_load_without_a_file():
    settings = load_settings(None, environ={})
    assert settings.http.max_redirects == 5
    assert settings.http.feed_max_bytes == 15 * 1024 * 1024
    assert settings.secrets.telegram_token == ""


def test_secrets_come_from_the_environment_only(tmp_path):
    path = write(tmp_path, '[llm]\nmodel = "openai/gpt-4o-mini"\napi_key_env = "MY_KEY"\n')
    settings = load_settings(path, environ={"TELEGRAM_BOT_TOKEN": "123:abc", "MY_KEY": "sk-1"})
    assert settings.secrets.telegram_token == "123:abc"
    assert settings.secrets.llm_api_key == "sk-1"
    assert "abc" not in repr(settings.secrets) and "sk-1" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[http]\nmax_redirects = 'five'\n", "http.max_redirects must be a whole number"),
        ("[http]\nmax_redircts = 5\n", "unknown key http.max_redircts"),
        ("[nope]\nx = 1\n", "unknown section [nope]"),
        ("[delivery]\ndefault_time = '25:00'\n", "delivery.default_time"),
        ("[delivery]\ndefault_timezone = 'Mars/Olympus'\n", "delivery.default_timezone"),
        ("[feeds]\ncatalogue = 'http://x'\n", "feeds.catalogue must be a list of strings"),
        ("[health]\nport = 70000\n", "health.port"),
        ("[data]\nkeep_audio = 'yes'\n", "data.keep_audio must be true or false"),
        ("not toml = = =\n", "not valid TOML"),
    ],
)
def test_a_wrong_key_type_or_value_names_the_key_and_the_file(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_the_example_config_loads_and_documents_every_key():
    example = REPO / "config.example.toml"
    settings = load_settings(example, environ={})
    assert settings.feeds.catalogue, "the example points at the offline demo feed"
    raw = tomllib.loads(example.read_text())
    hints = typing.get_type_hints(Settings)
    for section in dataclasses.fields(Settings):
        if section.name in ("secrets", "source"):
            continue
        documented = set(raw.get(section.name, {}))
        expected = {f.name for f in dataclasses.fields(hints[section.name])}
        assert documented == expected, f"[{section.name}] differs: {documented ^ expected}"
