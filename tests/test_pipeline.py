"""The episode pipeline: persisted states, publisher transcripts first, retries, no redone work."""

from __future__ import annotations

import math
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import DataSettings, PipelineSettings, Settings
from core.jobs.pipeline import EpisodePipeline
from core.models import Episode, EpisodeState, Feed, Segment, Transcript, TranscriptLink
from core.store.blobs import load_transcript, save_transcript
from core.store.repos import Repos
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeExtractor, FakeTranscriber

VTT = b"""WEBVTT

00:00:00.000 --> 00:00:04.000
<v Host>Welcome back to the show.

00:00:04.000 --> 00:00:11.000
<v Guest>Battery prices fell ninety percent in ten years, so storage now beats gas peakers.
"""


class NoFetcher:
    async def get(self, url, *, headers=None, max_bytes=None):
        raise AssertionError("unexpected network request")

    async def download(self, url, dest, *, max_bytes):
        raise AssertionError("unexpected network download")


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 16000)))
            for n in range(int(16000 * seconds))
        )
        out.writeframes(frames)
    return path


@pytest.fixture
def env(tmp_path):
    settings = Settings(data=DataSettings(dir=str(tmp_path / "data")),
                        pipeline=PipelineSettings(max_attempts=3, retry_base_minutes=5))
    store, clock = FakeStore(), FakeClock(datetime(2026, 11, 28, 6, tzinfo=UTC))
    return settings, store, clock, tmp_path


def make(env, transcriber=None, extractor=None, crash_hook=None):
    settings, store, clock, _ = env
    return EpisodePipeline(Repos(store), NoFetcher(), transcriber or FakeTranscriber(),
                           extractor or FakeExtractor(), clock, settings, crash_hook=crash_hook)


async def add_episode(env, episode_id: str, *, audio: Path | None = None, transcript: Path | None = None,
                      duration: float | None = 60) -> Episode:
    _, store, clock, _ = env
    repos = Repos(store)
    await repos.feeds.put(Feed(id="f1", url="/demo/feed.xml", title="Demo", origin="operator"))
    episode = Episode(
        id=episode_id, feed_id="f1", identity=episode_id, title=f"Episode {episode_id}",
        published_at=clock.now(), duration_s=duration, audio_url=audio.as_uri() if audio else None,
        audio_type="audio/wav", page_url=None, description="",
        transcripts=(TranscriptLink(transcript.as_uri(), "text/vtt"),) if transcript else (),
    )
    await repos.episodes.put(episode)
    return episode


async def test_a_publisher_transcript_is_used_and_no_audio_is_transcribed(env):
    vtt = env[3] / "ep.vtt"
    vtt.write_bytes(VTT)
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"), transcript=vtt)
    transcriber = FakeTranscriber()
    report = await make(env, transcriber).run_pending()
    episode = await Repos(env[1]).episodes.get("e1")
    assert episode.state == EpisodeState.DONE and report.extracted == ["e1"]
    assert transcriber.calls == []
    transcript = await load_transcript(env[1], "e1")
    assert transcript.source == "publisher:text/vtt"
    assert transcript.segments[-1].speaker == "Guest"


async def test_an_unusable_publisher_transcript_falls_back_to_speech_to_text(env):
    garbage = env[3] / "broken.vtt"
    garbage.write_bytes(b"\x00\x01 not a transcript at all")
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"), transcript=garbage)
    transcriber = FakeTranscriber()
    await make(env, transcriber).run_pending()
    assert len(transcriber.calls) == 1
    assert (await load_transcript(env[1], "e1")).source == "fake-stt"
    assert not list((env[3] / "data" / "audio").glob("*")), "audio is deleted after transcription"


async def test_non_audio_fails_the_episode_at_once_with_its_reason(env):
    html = env[3] / "page.mp3"
    html.write_text("<!doctype html><html><body>Sign in to listen</body></html>")
    await add_episode(env, "bad", audio=html)
    await add_episode(env, "good", audio=write_wav(env[3] / "ok.wav"))
    report = await make(env).run_pending()
    repos = Repos(env[1])
    bad, good = await repos.episodes.get("bad"), await repos.episodes.get("good")
    assert bad.state == EpisodeState.FAILED and bad.last_error
    assert good.state == EpisodeState.DONE, "one bad episode never blocks the others"
    assert [e for e, _ in report.failed] == ["bad"]
    assert not (env[3] / "data" / "audio" / "bad.mp3").exists()


async def test_failures_retry_with_backoff_then_stay_failed_with_the_reason(env):
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"))
    _, store, clock, _ = env
    pipeline = make(env, FakeTranscriber(fail_times=10))
    await pipeline.run_pending()
    first = await Repos(store).episodes.get("e1")
    assert first.state == EpisodeState.AUDIO_DOWNLOADED and first.attempts == 1
    assert first.next_attempt_at == clock.now() + timedelta(minutes=5)
    await pipeline.run_pending()  # not due yet: nothing happens
    assert (await Repos(store).episodes.get("e1")).attempts == 1
    clock.advance(minutes=5)
    await pipeline.run_pending()
    second = await Repos(store).episodes.get("e1")
    assert second.attempts == 2 and second.next_attempt_at == clock.now() + timedelta(minutes=10)
    clock.advance(minutes=10)
    await pipeline.run_pending()
    final = await Repos(store).episodes.get("e1")
    assert final.state == EpisodeState.FAILED and "decoder" in final.last_error


async def test_a_stored_transcript_is_never_redone_after_a_crash_before_its_state(env):
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"))
    await save_transcript(env[1], Transcript("e1", (Segment(0, 5, "Already transcribed, because reasons."),),
                                             source="fake-stt"))
    transcriber = FakeTranscriber()
    await make(env, transcriber).run_pending()
    assert transcriber.calls == []
    assert (await Repos(env[1]).episodes.get("e1")).state == EpisodeState.DONE


async def test_an_episode_longer_than_the_limit_is_refused_before_download(env):
    await add_episode(env, "long", audio=write_wav(env[3] / "ep.wav"), duration=5 * 3600)
    await make(env).run_pending()
    episode = await Repos(env[1]).episodes.get("long")
    assert episode.state == EpisodeState.FAILED and "hour" in episode.last_error.lower()


async def test_start_removes_partial_downloads_left_by_a_crash(env):
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"))
    audio_dir = env[3] / "data" / "audio"
    audio_dir.mkdir(parents=True)
    (audio_dir / "e1.wav.part").write_bytes(b"half")
    (audio_dir / "orphan.mp3").write_bytes(b"nobody's")
    await make(env).start()
    assert sorted(p.name for p in audio_dir.iterdir()) == []


async def test_crash_points_fire_in_order_for_a_speech_to_text_episode(env):
    await add_episode(env, "e1", audio=write_wav(env[3] / "ep.wav"))
    reached: list[str] = []
    await make(env, crash_hook=reached.append).run_pending()
    assert reached == ["downloaded", "audio_downloaded", "before:transcribed", "transcribed",
                       "before:done", "done"]
