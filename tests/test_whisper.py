"""WhisperTranscriber with the real bundled tiny.en model on the committed demo audio."""

from __future__ import annotations

import asyncio
import os
import re
import time
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import core.adapters.whisper as whisper
from core.adapters.whisper import WhisperTranscriber, bundled_model_path, cpu_threads
from core.config import TranscriptionSettings
from core.errors import AudioError, TranscriptionError
from core.models import Segment

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
BAD = Path(__file__).resolve().parent / "data" / "audio"
CLIP = BAD / "speech-clip.mp3"  # 7.6 s: "Teams that deploy every day have about half the change..."


def _transcriber(**changes: object) -> WhisperTranscriber:
    return WhisperTranscriber(replace(TranscriptionSettings(), **changes))


def _vtt_cues(path: Path) -> list[tuple[float, str]]:
    """(start seconds, text) of each cue of the demo's publisher transcript."""
    cues = []
    for block in path.read_text(encoding="utf-8").split("\n\n")[1:]:
        lines = block.strip().splitlines()
        h, m, s = lines[1].split(" --> ")[0].split(":")
        cues.append((int(h) * 3600 + int(m) * 60 + float(s), re.sub(r"<[^>]+>", "", lines[2])))
    return cues


def test_bundled_model_is_the_tiny_en_folder_of_the_package() -> None:
    path = bundled_model_path()
    assert path.name == "model" and (path / "model.bin").is_file()
    assert (path / "tokenizer.json").is_file()


def test_threads_default_to_the_cores_shared_among_concurrent_transcriptions() -> None:
    cores = min(4, os.cpu_count() or 1)
    assert cpu_threads(TranscriptionSettings()) == cores
    assert cpu_threads(TranscriptionSettings(max_concurrent=2)) == max(1, cores // 2)
    assert cpu_threads(TranscriptionSettings(cpu_threads=3)) == 3


def test_name_records_the_model_for_the_transcript_source() -> None:
    assert _transcriber().name == "whisper:tiny.en"
    assert _transcriber(model="/models/distil-small.en").name == "whisper:distil-small.en"


@dataclass(frozen=True)
class Run:
    """One real transcription of demo episode 3, shared by the tests that only read it."""

    segments: tuple[Segment, ...]
    fractions: list[float]


@pytest.fixture(scope="module")
def episode_3() -> Run:
    fractions: list[float] = []
    segments = asyncio.run(_transcriber().transcribe(DEMO / "episode-3.mp3", fractions.append))
    return Run(segments, fractions)


def test_demo_episode_is_transcribed_with_its_key_words(episode_3: Run) -> None:
    text = " ".join(s.text for s in episode_3.segments).lower()
    for words in ("tom baker", "sponsored by", "promo code pricing", "raising prices",
                  "fewer than 5%", "customers", "support email", "repeat order", "before lunch"):
        assert words in text
    assert all(s.text == s.text.strip() and s.text for s in episode_3.segments)
    assert all(0 <= s.start <= s.end <= 60.5 for s in episode_3.segments)
    assert [s.start for s in episode_3.segments] == sorted(s.start for s in episode_3.segments)


def test_segments_are_sentences_timed_like_the_publisher_transcript(episode_3: Run) -> None:
    cues = _vtt_cues(DEMO / "episode-3.vtt")
    for needle in ("raising prices", "support email", "sponsored by", "before lunch"):
        truth = next(start for start, text in cues if needle in text.lower())
        heard = next(s for s in episode_3.segments if needle in s.text.lower())
        assert abs(heard.start - truth) < 2.5, (needle, heard, truth)
        assert heard.end - heard.start < 15  # a sentence, not a whole 30 s chunk


def test_progress_rises_and_ends_at_one(episode_3: Run) -> None:
    fractions = episode_3.fractions
    assert len(fractions) >= 3
    assert fractions == sorted(fractions)
    assert 0 < fractions[0] < 1
    assert fractions[-2] > 0.85 and fractions[-1] == 1.0


async def test_audio_decoded_in_windows_keeps_episode_times(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper, "WINDOW_S", 20.0)  # three windows instead of one
    segments = await _transcriber().transcribe(DEMO / "episode-3.mp3")
    cues = _vtt_cues(DEMO / "episode-3.vtt")
    for needle in ("sponsored by", "raising prices", "support email", "before lunch"):
        truth = next(start for start, text in cues if needle in text.lower())
        heard = next(s for s in segments if needle in s.text.lower())
        # tiny.en's own timing wanders by up to ~1.5 s (ctranslate2 4.8.5 puts "before lunch"
        # 1.4 s late); a window offset error would be whole seconds of 20 s windows.
        assert heard.start - 2.0 <= truth <= heard.end + 2.0, (needle, heard, truth)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert segments[-1].end <= 60.5


async def test_a_silent_stereo_file_gives_no_segments_rather_than_invented_text(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(bytes(4 * 44_100 * 12))
    assert await _transcriber().transcribe(path) == ()


@pytest.mark.parametrize(
    ("fixture", "error", "reason"),
    [
        ("empty.mp3", AudioError, "empty"),
        ("error-page.mp3", AudioError, "web page"),
        ("random.mp3", AudioError, "not a recognised audio format"),
        ("truncated.mp3", AudioError, "truncated"),
        ("corrupt.mp3", AudioError, "could not be opened"),
    ],
)
async def test_broken_downloads_fail_with_a_clear_reason(
    fixture: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        await _transcriber().transcribe(BAD / fixture)


async def test_truncated_mp3_without_a_header_count_still_fails_clearly(tmp_path: Path) -> None:
    # Only the first frames survive, and nothing says how long it should be: the decoder
    # gets almost nothing, which must end as an AudioError (or a short transcript), never a crash.
    data = (DEMO / "episode-2.mp3").read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[:10] + b"\x00" * (len(data[:700]) - 10))
    with pytest.raises((AudioError, TranscriptionError)):
        await _transcriber().transcribe(path)


async def test_episode_longer_than_the_limit_is_refused_before_decoding() -> None:
    transcriber = _transcriber(max_duration_hours=0.01)
    started = time.perf_counter()
    with pytest.raises(AudioError, match=r"the limit is 0\.01 hours"):
        await transcriber.transcribe(DEMO / "episode-1.mp3")
    assert time.perf_counter() - started < 5


async def test_two_calls_run_one_at_a_time_when_max_concurrent_is_one() -> None:
    transcriber = _transcriber(max_concurrent=1)
    spans: list[tuple[float, float]] = []

    async def timed() -> None:
        started = time.perf_counter()
        await transcriber.transcribe(CLIP)
        spans.append((started, time.perf_counter()))

    await transcriber.start()
    await asyncio.gather(timed(), timed())
    assert transcriber.peak_running == 1
    (a_start, a_end), (_, b_end) = sorted(spans, key=lambda s: s[1])
    # Both were asked for at once; the second finished a whole transcription later.
    assert b_end - a_end > 0.5 * (a_end - a_start)


async def test_two_calls_overlap_when_two_are_allowed() -> None:
    transcriber = _transcriber(max_concurrent=2)
    await asyncio.gather(transcriber.transcribe(CLIP), transcriber.transcribe(CLIP))
    assert transcriber.peak_running == 2


async def test_cancelled_transcription_keeps_its_slot_until_the_thread_has_stopped() -> None:
    transcriber = _transcriber(max_concurrent=1)
    await transcriber.start()
    task = asyncio.create_task(transcriber.transcribe(DEMO / "episode-1.mp3"))
    await asyncio.sleep(0.5)
    assert transcriber.running == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert transcriber.running == 0  # the worker thread is done: no hidden second transcription
    assert await transcriber.transcribe(CLIP)


async def test_model_is_loaded_once_however_many_callers() -> None:
    transcriber = _transcriber(max_concurrent=2)
    await asyncio.gather(transcriber.start(), transcriber.start(), transcriber.transcribe(CLIP))
    await transcriber.transcribe(CLIP)
    assert transcriber.model_loads == 1


async def test_a_model_folder_that_is_not_a_model_fails_clearly(tmp_path: Path) -> None:
    transcriber = _transcriber(model=str(tmp_path))
    with pytest.raises(TranscriptionError, match="could not be loaded"):
        await transcriber.start()
