"""Plain-text rendering for the terminal: digest, insights, transcripts, answers, progress."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence

from core.models import Answer, Digest, Episode, Insight, Transcript
from core.timeutil import format_timestamp


def print_digest(digest: Digest) -> None:
    """Today's five, numbered, with show, episode, timestamp link and id."""
    if digest.follows_nothing:
        print("You follow no podcasts yet: add one with `castfive feeds add URL` (or `--search TERM`), "
              "or list feeds under [feeds] catalogue in config.toml.")
        return
    if not digest.items:
        print(f"No new insights for {digest.local_date} yet: nothing good enough to send (never filler).")
        return
    print(f"Your Castfive for {digest.local_date}\n")
    for item in digest.items:
        insight = item.insight
        print(textwrap.fill(f"{item.position}. {insight.text}", width=100, subsequent_indent="   "))
        who = f" — {insight.speaker}" if insight.speaker else ""
        print(f"   {item.show_title} · {item.episode_title} · [{format_timestamp(insight.start)}]{who}")
        if item.moment_url:
            print(f"   {item.moment_url}")
        print(f"   id {insight.id}  (castfive ask {insight.id} \"your question\")\n")


def print_insights(episode: Episode, insights: Sequence[Insight]) -> None:
    """An episode's insights with scores and quotes."""
    print(f"{episode.title} ({episode.id}): {len(insights)} insight(s)\n")
    for insight in insights:
        print(f"[{format_timestamp(insight.start)}] {insight.id} {insight.kind} score={insight.score:.2f}")
        print(textwrap.fill(insight.text, width=100, initial_indent="  ", subsequent_indent="  "))
        print(textwrap.fill(f'"{insight.quote}"', width=100, initial_indent="    ", subsequent_indent="    "))
        print()


def print_transcript(episode: Episode, transcript: Transcript) -> None:
    """Each segment with its timestamp and speaker."""
    print(f"{episode.title} ({episode.id}), source {transcript.source}\n")
    for segment in transcript.segments:
        speaker = f"{segment.speaker}: " if segment.speaker else ""
        print(f"[{format_timestamp(segment.start)}] {speaker}{segment.text}")


def print_answer(answer: Answer) -> None:
    """The answer and the passages it cites."""
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for citation in answer.citations:
            print(textwrap.fill(f"[{format_timestamp(citation.start)}] {citation.text}", width=100,
                                subsequent_indent="    "))


class ProgressBar:
    """A one-line progress bar on stderr over all episodes of a run (silent when not a TTY)."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total = max(total, 1)
        self.width = width
        self.fractions: dict[str, float] = {}
        self.tty = sys.stderr.isatty()
        self._last = ""

    def update(self, episode: Episode, stage: str, fraction: float) -> None:
        """Record progress of one episode and redraw."""
        self.fractions[episode.id] = max(self.fractions.get(episode.id, 0.0), min(fraction, 1.0))
        done = sum(self.fractions.values()) / self.total
        filled = int(done * self.width)
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done:4.0%} {stage} {episode.title[:40]}"
        if line != self._last:
            self._last = line
            if self.tty:
                sys.stderr.write(line.ljust(100))
                sys.stderr.flush()

    def close(self) -> None:
        """End the progress line."""
        if self.tty and self._last:
            sys.stderr.write("\n")
