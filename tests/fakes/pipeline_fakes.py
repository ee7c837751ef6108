"""FakeTranscriber and FakeExtractor: our own seams, for pipeline unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import TranscriptionError
from core.ids import insight_id_for
from core.models import Chapter, Episode, Insight, Segment, Transcript


class FakeTranscriber:
    """Returns fixed segments; can be told to fail; counts calls."""

    name = "fake-stt"

    def __init__(self, fail_times: int = 0) -> None:
        self.calls: list[Path] = []
        self.fail_times = fail_times

    async def start(self) -> None:
        return None

    async def transcribe(self, audio_path: Path, on_progress=None) -> tuple[Segment, ...]:
        self.calls.append(audio_path)
        assert audio_path.exists(), "the audio must be on disk when transcription starts"
        if self.fail_times > 0:
            self.fail_times -= 1
            raise TranscriptionError("the decoder fell over")
        if on_progress:
            on_progress(0.5)
            on_progress(1.0)
        return (
            Segment(0.0, 5.0, "Welcome to the show."),
            Segment(5.0, 12.0, "Teams that deploy daily halve their failure rate because changes are small."),
        )


class FakeExtractor:
    """One insight per transcript, quoting its longest segment."""

    name = "fake-extractor"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def extract(
        self, transcript: Transcript, episode: Episode, show_title: str, chapters: Sequence[Chapter] = ()
    ) -> list[Insight]:
        self.calls.append(episode.id)
        best = max(transcript.segments, key=lambda s: len(s.text))
        return [Insight(id=insight_id_for(episode.id, best.start, best.text), episode_id=episode.id,
                        feed_id=episode.feed_id, text=best.text, quote=best.text, start=best.start,
                        end=best.end, score=0.8, extractor=self.name)]
