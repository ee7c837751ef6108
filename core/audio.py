"""Checks on downloaded audio before a decoder sees it, and bounded-memory decoding in windows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import AudioError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper models expect
MIN_AUDIO_BYTES = 512  # shorter than this cannot hold a second of any real podcast audio
_HEAD_BYTES = 64 * 1024

# MPEG audio frame header tables (MPEG-1/2/2.5, layers I-III), for a second-frame check.
_BITRATES = {  # (is_mpeg1, layer) -> kbps by index
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def sniff_audio(path: Path) -> str:
    """The container format by magic bytes ("mp3", "wav", "ogg", ...); AudioError if not audio."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise AudioError(f"The audio file could not be read ({exc.strerror or exc}).") from None
    if size == 0:
        raise AudioError("The audio file is empty (0 bytes): the download delivered nothing.")
    if size < MIN_AUDIO_BYTES:
        raise AudioError(f"The audio file is only {size} bytes: too short to be an episode.")
    kind = _container(head)
    if kind is None:
        raise AudioError(_not_audio_reason(head))
    if kind == "mp3":
        _check_mp3_complete(path, size)
    return kind


def _container(head: bytes) -> str | None:
    if head.startswith(b"ID3"):
        return "mp3"  # ID3v2 tag; MP3 (or rarely ADTS AAC) follows
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"#!AMR"):
        return "amr"
    return _mpeg_stream(head)


def _mpeg_stream(head: bytes) -> str | None:
    """An MPEG audio or ADTS stream: two consecutive valid frame headers near the start."""
    limit = min(len(head) - 4, 4096)  # tolerate a little junk before the first frame
    for offset in range(max(limit, 0)):
        if head[offset] != 0xFF or head[offset + 1] & 0xE0 != 0xE0:
            continue
        if head[offset + 1] & 0xF6 == 0xF0:  # ADTS: MPEG-4 AAC, layer bits 00
            length = ((head[offset + 3] & 0x03) << 11) | (head[offset + 4] << 3) | (head[offset + 5] >> 5)
            if length > 7 and _is_adts(head, offset + length):
                return "aac"
            continue
        length = _mpeg_frame_length(head, offset)
        if length and _mpeg_frame_length(head, offset + length):
            return "mp3"
    return None


def _is_adts(head: bytes, offset: int) -> bool:
    return offset + 2 <= len(head) and head[offset] == 0xFF and head[offset + 1] & 0xF6 == 0xF0


def _mpeg_frame_length(head: bytes, offset: int) -> int:
    """Frame length in bytes for a valid MPEG audio header at offset, else 0."""
    if offset + 4 > len(head) or head[offset] != 0xFF or head[offset + 1] & 0xE0 != 0xE0:
        return 0
    version = (head[offset + 1] >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((head[offset + 1] >> 1) & 0x03)  # 4 means reserved
    bitrate_index = head[offset + 2] >> 4
    rate_index = (head[offset + 2] >> 2) & 0x03
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    padding = (head[offset + 2] >> 1) & 0x01
    bitrate = _BITRATES[(version == 3, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if (layer == 2 or version == 3) else 72
    return per_frame * bitrate // rate + padding


def _check_mp3_complete(path: Path, size: int) -> None:
    """AudioError when the file is shorter than its ID3 tag or its Xing/Info header declare."""
    with path.open("rb") as handle:
        head = handle.read(10)
        start = 0
        if head.startswith(b"ID3") and len(head) == 10:
            tag_size = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
            if tag_size > size:
                raise AudioError(
                    "The audio file ends inside its ID3 tag: it is truncated (an incomplete download?)."
                )
            start = tag_size
        handle.seek(start)
        frame = handle.read(512)
    for marker in (b"Xing", b"Info"):  # written by LAME and FFmpeg into the first frame
        at = frame.find(marker, 4, 200)
        if at < 0 or at + 16 > len(frame):
            continue
        flags = int.from_bytes(frame[at + 4 : at + 8], "big")
        if not flags & 0x02:  # no byte count recorded
            return
        field = at + 8 + (4 if flags & 0x01 else 0)
        declared = int.from_bytes(frame[field : field + 4], "big")
        actual = size - start
        # 10% slack: a trailing ID3v1 tag or an encoder's rounding must never fail a good file.
        if declared > 0 and actual < 0.9 * declared:
            raise AudioError(
                f"The audio file is truncated: it holds {actual} of the {declared} bytes its "
                "header declares (an incomplete download?)."
            )
        return


def _syncsafe(data: bytes) -> int:
    return (data[0] & 0x7F) << 21 | (data[1] & 0x7F) << 14 | (data[2] & 0x7F) << 7 | (data[3] & 0x7F)


def _not_audio_reason(head: bytes) -> str:
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:200]:
        return ("The download is a web page (HTML), not audio: "
                "the server probably sent an error or login page.")
    if text.startswith((b"<?xml", b"<rss", b"<feed", b"<error")):
        return ("The download is an XML document, not audio: "
                "the enclosure URL may point at a feed or an error.")
    if text.startswith((b"{", b"[")):
        return "The download is JSON, not audio: the enclosure URL probably points at an API error."
    if head[:4] == b"%PDF":
        return "The download is a PDF document, not audio."
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if printable > 0.95 * min(len(head), 512):
        return "The download is a text file, not audio."
    return f"The download is not a recognised audio format (it starts with bytes {head[:8].hex(' ')})."


def probe_duration(path: Path) -> float | None:
    """The duration the container declares, in seconds; None when unknown; AudioError if corrupt."""
    import av  # bundled with faster-whisper; imported here so the core loads without it

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("The file has no audio track.")
            if container.duration and container.duration > 0:
                return container.duration / av.time_base
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            return None
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises FFmpegError subclasses, OSError, ValueError
        raise AudioError(f"The audio file could not be opened: {_short(exc)}.") from None


def check_duration(seconds: float | None, max_hours: float) -> None:
    """AudioError when an episode is longer than the configured limit."""
    if seconds is not None and seconds > max_hours * 3600:
        raise AudioError(
            f"The episode is {seconds / 3600:.1f} hours long; the limit is {max_hours:g} hours."
        )


def decode_windows(
    path: Path, window_s: float = 600.0, search_s: float = 20.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (offset seconds, float32 mono 16 kHz samples) in ~window_s pieces cut at quiet points.

    Decoding a whole episode at once holds ~230 MB of samples per hour before any features;
    windows keep memory flat whatever the length.
    """
    import av

    window = int(window_s * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    pending_len = 0
    offset = 0
    bad_frames = 0
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("The file has no audio track.")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in _frames(container, av):
                if frame is None:
                    bad_frames += 1
                    continue
                frame.pts = None  # resample by sample count; broken timestamps must not stop us
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    pending.append(chunk)
                    pending_len += chunk.size
                if pending_len >= window + int(search_s * SAMPLE_RATE):
                    samples = np.concatenate(pending)
                    cut = _quiet_cut(samples, window, int(search_s * SAMPLE_RATE))
                    yield offset / SAMPLE_RATE, samples[:cut].astype(np.float32) / 32768.0
                    offset += cut
                    rest = samples[cut:]
                    pending, pending_len = [rest], rest.size
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the decoder raises, the caller gets AudioError
        raise AudioError(f"The audio could not be decoded: {_short(exc)}.") from None
    if bad_frames:
        log.warning("skipped %d undecodable audio frames", bad_frames)
    if pending:
        samples = np.concatenate(pending)
        if samples.size:
            yield offset / SAMPLE_RATE, samples.astype(np.float32) / 32768.0


def _frames(container: Any, av: Any) -> Iterator[Any]:
    """Decoded frames; None for a frame the decoder rejects (a glitch, not a reason to stop)."""
    iterator = container.decode(audio=0)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            yield None


def _quiet_cut(samples: np.ndarray, target: int, search: int) -> int:
    """The quietest 100 ms spot within `search` samples after `target`: cut between words."""
    hop = SAMPLE_RATE // 10
    region = samples[target : target + search].astype(np.float32)
    usable = region.size - region.size % hop
    if usable < hop:
        return min(target, samples.size)
    energy = np.square(region[:usable]).reshape(-1, hop).mean(axis=1)
    return target + int(np.argmin(energy)) * hop + hop // 2


def _short(exc: BaseException) -> str:
    # FFmpeg errors carry the file path in str(); strerror is the reason alone.
    text = str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
