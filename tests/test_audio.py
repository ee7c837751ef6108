"""Audio checks before decoding, container durations, and windowed decoding."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from core.audio import (
    SAMPLE_RATE,
    check_duration,
    decode_windows,
    probe_duration,
    sniff_audio,
)
from core.errors import AudioError

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
BAD = Path(__file__).resolve().parent / "data" / "audio"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _wav(path: Path, seconds: float, rate: int = 16_000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(tone.tobytes())
    return path


def test_demo_episode_is_recognised_as_mp3() -> None:
    assert sniff_audio(DEMO / "episode-1.mp3") == "mp3"


def test_mp3_without_id3_tag_is_recognised_by_its_frame_headers(tmp_path: Path) -> None:
    data = (DEMO / "episode-2.mp3").read_bytes()
    tag_size = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | data[9] & 0x7F)
    assert sniff_audio(_write(tmp_path, "bare.mp3", data[tag_size:])) == "mp3"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"OggS\x00\x02", "ogg"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm"),
        (b"FORM\x00\x00\x10\x00AIFF", "aiff"),
    ],
)
def test_common_containers_are_named_by_their_magic_bytes(tmp_path: Path, head: bytes, kind: str) -> None:
    assert sniff_audio(_write(tmp_path, "audio.bin", head + b"\x00" * 2048)) == kind


def test_wav_file_is_recognised_and_probed(tmp_path: Path) -> None:
    path = _wav(tmp_path / "tone.wav", 3.0)
    assert sniff_audio(path) == "wav"
    assert probe_duration(path) == pytest.approx(3.0, abs=0.05)


def test_zero_byte_download_is_rejected_as_empty() -> None:
    with pytest.raises(AudioError, match="empty"):
        sniff_audio(BAD / "empty.mp3")


def test_a_few_bytes_are_too_short_to_be_an_episode(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="too short"):
        sniff_audio(_write(tmp_path, "tiny.mp3", b"ID3\x03" + b"\x00" * 60))


def test_html_error_page_saved_as_mp3_is_named_a_web_page() -> None:
    with pytest.raises(AudioError, match="web page"):
        sniff_audio(BAD / "error-page.mp3")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * 600, "XML"),
        (b'{"error": "rate limited", "retry": 30}' + b" " * 600, "JSON"),
        (b"Access denied. Please log in to download this episode.\n" * 20, "text"),
    ],
)
def test_documents_served_instead_of_audio_are_named(tmp_path: Path, body: bytes, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        sniff_audio(_write(tmp_path, "episode.mp3", body))


def test_random_bytes_are_not_a_recognised_audio_format() -> None:
    with pytest.raises(AudioError, match="not a recognised audio format"):
        sniff_audio(BAD / "random.mp3")


def test_truncated_mp3_is_caught_by_its_header_byte_count() -> None:
    with pytest.raises(AudioError, match="truncated"):
        sniff_audio(BAD / "truncated.mp3")


def test_file_cut_inside_its_id3_tag_is_truncated(tmp_path: Path) -> None:
    data = (DEMO / "episode-3.mp3").read_bytes()
    big_tag = b"ID3\x03\x00\x00\x00\x01\x00\x00"  # declares a 16 KiB tag
    with pytest.raises(AudioError, match="ID3 tag"):
        sniff_audio(_write(tmp_path, "cut.mp3", big_tag + data[10:4000]))


def test_unreadable_path_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="could not be read"):
        sniff_audio(tmp_path / "missing.mp3")


def test_demo_episode_duration_matches_the_feed() -> None:
    assert probe_duration(DEMO / "episode-1.mp3") == pytest.approx(81.8, abs=0.5)


def test_probing_a_corrupt_file_is_an_audio_error_not_a_crash() -> None:
    with pytest.raises(AudioError, match="could not be opened"):
        probe_duration(BAD / "corrupt.mp3")


def test_probing_garbage_never_leaks_a_pyav_exception(tmp_path: Path) -> None:
    with pytest.raises(AudioError):
        probe_duration(_write(tmp_path, "x.mp3", b"\xff\xfb\x90\x00" * 300))


def test_episode_over_the_limit_is_refused_with_both_lengths() -> None:
    with pytest.raises(AudioError, match=r"2\.5 hours long; the limit is 2 hours"):
        check_duration(2.5 * 3600, max_hours=2)


def test_unknown_or_short_durations_pass_the_limit() -> None:
    check_duration(None, max_hours=1)
    check_duration(3599.0, max_hours=1)


def test_windows_cover_the_whole_episode_without_gaps_or_overlaps() -> None:
    windows = list(decode_windows(DEMO / "episode-1.mp3", window_s=20.0, search_s=5.0))
    assert len(windows) == 4
    position = 0.0
    for offset, samples in windows:
        assert offset == pytest.approx(position, abs=1e-9)
        assert samples.dtype == np.float32 and samples.ndim == 1
        position += samples.size / SAMPLE_RATE
    assert position == pytest.approx(probe_duration(DEMO / "episode-1.mp3") or 0, abs=0.2)
    for _, samples in windows[:-1]:
        assert 20.0 <= samples.size / SAMPLE_RATE <= 25.0


def test_windows_are_cut_in_a_pause_not_mid_word() -> None:
    windows = list(decode_windows(DEMO / "episode-1.mp3", window_s=20.0, search_s=5.0))
    whole = np.concatenate([samples for _, samples in windows])
    for offset, _ in windows[1:]:
        cut = int(offset * SAMPLE_RATE)
        around = whole[cut - 800 : cut + 800]  # 100 ms around the cut
        assert np.sqrt(np.mean(np.square(around))) < 0.2 * np.sqrt(np.mean(np.square(whole)))


def test_short_file_comes_back_as_one_window(tmp_path: Path) -> None:
    windows = list(decode_windows(_wav(tmp_path / "t.wav", 2.0, rate=44_100)))
    assert len(windows) == 1
    assert windows[0][1].size == pytest.approx(2.0 * SAMPLE_RATE, abs=50)


def test_decoding_a_corrupt_file_is_an_audio_error() -> None:
    with pytest.raises(AudioError):
        list(decode_windows(BAD / "corrupt.mp3"))
