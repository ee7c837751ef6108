"""The episode pipeline: new -> (publisher transcript | audio -> speech-to-text) -> insights.

Every step persists its artefact before its state, so a restart after a kill at any point resumes
where it stopped and never redoes finished work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from core.audio import check_duration, probe_duration, sniff_audio
from core.config import Settings
from core.errors import AudioError, BudgetExhaustedError, CastfiveError, DiskFullError
from core.models import Chapter, Episode, EpisodeState, Feed, Transcript
from core.ports import Clock, Extractor, Fetcher, Transcriber
from core.sources import download_asset, fetch_asset
from core.store.blobs import load_chapters, load_transcript, save_chapters, save_transcript
from core.store.repos import Repos
from core.transcripts.chapters import parse_chapters
from core.transcripts.parse import parse_transcript
from core.transcripts.select import mime_for, rank_transcript_links

log = logging.getLogger(__name__)

ACTIVE_STATES = (EpisodeState.NEW, EpisodeState.AUDIO_DOWNLOADED, EpisodeState.TRANSCRIBED)
ALL_STAGES = frozenset({"transcribe", "extract"})  # distributed workers run one stage each
ProgressFn = Callable[[Episode, str, float], None]  # episode, stage, fraction of that stage
CrashHook = Callable[[str], None]  # test seam: called at each named point of a step


@dataclass
class PipelineReport:
    """What one pipeline run did."""

    transcribed: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (episode id, reason)
    deferred: list[tuple[str, str]] = field(default_factory=list)  # will retry later


class EpisodePipeline:
    """Moves episodes through their persisted states; downloads run beside transcription."""

    def __init__(
        self,
        repos: Repos,
        fetcher: Fetcher,
        transcriber: Transcriber,
        extractor: Extractor,
        clock: Clock,
        settings: Settings,
        *,
        crash_hook: CrashHook | None = None,
    ) -> None:
        self.repos = repos
        self.fetcher = fetcher
        self.transcriber = transcriber
        self.extractor = extractor
        self.clock = clock
        self.settings = settings
        self.audio_dir = settings.data_dir / "audio"
        self._crash_hook = crash_hook or (lambda point: None)
        self._downloads = asyncio.Semaphore(settings.pipeline.max_concurrent_downloads)
        self._run_lock = asyncio.Lock()

    def backlog_filter(self, episode: Episode, now: datetime) -> bool:
        """True when the episode has work to do now."""
        return episode.state in ACTIVE_STATES and (
            episode.next_attempt_at is None or episode.next_attempt_at <= now
        )

    async def start(self) -> None:
        """Remove partial files a crash left behind, and audio no longer needed."""
        await asyncio.to_thread(self.audio_dir.mkdir, parents=True, exist_ok=True)
        episodes = {e.id: e for e in await self.repos.episodes.all()}
        for path in await asyncio.to_thread(lambda: list(self.audio_dir.iterdir())):
            episode = episodes.get(path.name.split(".", 1)[0])
            stale = path.name.endswith(".part") or episode is None or (
                episode.state not in (EpisodeState.NEW, EpisodeState.AUDIO_DOWNLOADED)
                and not self.settings.data.keep_audio
            )
            if stale:
                await asyncio.to_thread(path.unlink, missing_ok=True)
                log.info("removed leftover file %s", path.name)

    async def backlog(self) -> list[Episode]:
        """Episodes with work to do now."""
        now = self.clock.now()
        return [e for e in await self.repos.episodes.all() if self.backlog_filter(e, now)]

    async def run_pending(self, progress: ProgressFn | None = None) -> PipelineReport:
        """Process every episode with work to do; one bad episode never blocks the others."""
        async with self._run_lock:
            report = PipelineReport()
            episodes = await self.backlog()
            feeds = {f.id: f for f in await self.repos.feeds.all()}
            await asyncio.gather(
                *(self._process_guarded(e, feeds.get(e.feed_id), report, progress) for e in episodes)
            )
            return report

    async def _process_guarded(
        self, episode: Episode, feed: Feed | None, report: PipelineReport, progress: ProgressFn | None
    ) -> None:
        if feed is None:
            return
        try:
            await self.process(episode, feed, report, progress)
        except DiskFullError:
            raise  # not this episode's fault: the whole run stops until space returns
        except Exception:  # a bug in one episode is logged and retried, never fatal to the run
            log.exception("pipeline bug episode=%s", episode.id)

    async def process(
        self, episode: Episode, feed: Feed, report: PipelineReport | None = None,
        progress: ProgressFn | None = None, stages: frozenset[str] = ALL_STAGES,
    ) -> Episode:
        """Run one episode forward as far as it can go now (through `stages` only)."""
        report = report or PipelineReport()
        notify = progress or (lambda e, stage, fraction: None)
        try:
            transcribe = "transcribe" in stages
            if transcribe and episode.state in (EpisodeState.NEW, EpisodeState.AUDIO_DOWNLOADED):
                episode = await self._transcribe(episode, feed, notify)
                report.transcribed.append(episode.id)
            if "extract" in stages and episode.state == EpisodeState.TRANSCRIBED:
                episode = await self._extract(episode, feed)
                report.extracted.append(episode.id)
        except DiskFullError:
            raise  # recording the failure would need the disk too; nothing to blame the episode for
        except BudgetExhaustedError as exc:
            episode = await self._defer_until_tomorrow(episode, str(exc))
            report.deferred.append((episode.id, str(exc)))
        except AudioError as exc:  # the file itself is bad: retrying cannot help
            episode = await self._fail(episode, str(exc), permanent=True)
            report.failed.append((episode.id, str(exc)))
        except CastfiveError as exc:
            episode = await self._fail(episode, str(exc))
            (report.failed if episode.state == EpisodeState.FAILED else report.deferred).append(
                (episode.id, str(exc))
            )
        except Exception as exc:
            log.exception("unexpected error episode=%s", episode.id)
            episode = await self._fail(episode, f"internal error ({type(exc).__name__})")
            report.failed.append((episode.id, episode.last_error))
        return episode

    # --- transcripts ---------------------------------------------------------------------------

    async def _transcribe(self, episode: Episode, feed: Feed, notify: ProgressFn) -> Episode:
        if await load_transcript(self.repos.store, episode.id) is not None:
            # the transcript was stored but the kill came before the state: do not redo it
            log.info("transcript already stored episode=%s", episode.id)
            return await self._set_state(episode, EpisodeState.TRANSCRIBED)
        transcript = None
        if episode.state == EpisodeState.NEW and self.settings.transcription.prefer_publisher_transcripts:
            transcript = await self._publisher_transcript(episode, feed)
        if transcript is None:
            audio = await self._audio_file(episode, feed)
            if episode.state == EpisodeState.NEW:
                episode = await self._set_state(episode, EpisodeState.AUDIO_DOWNLOADED)
            notify(episode, "transcribe", 0.0)
            segments = await self.transcriber.transcribe(
                audio, on_progress=lambda fraction: notify(episode, "transcribe", fraction)
            )
            if not segments:
                raise AudioError("No speech was found in the audio.")
            transcript = Transcript(episode.id, segments, source=self.transcriber.name)
        await save_transcript(self.repos.store, transcript)
        self._crash_hook("before:transcribed")
        episode = await self._set_state(
            episode, EpisodeState.TRANSCRIBED, transcript_source=transcript.source
        )
        if not self.settings.data.keep_audio:
            await asyncio.to_thread(self._audio_path(episode).unlink, missing_ok=True)
        log.info("transcribed episode=%s source=%s segments=%d", episode.id, transcript.source,
                 len(transcript.segments))
        return episode

    async def _publisher_transcript(self, episode: Episode, feed: Feed) -> Transcript | None:
        for link in rank_transcript_links(episode.transcripts):
            mime = mime_for(link)
            try:
                body, _ = await fetch_asset(
                    self.fetcher, link.url, feed=feed, max_bytes=self.settings.http.transcript_max_bytes
                )
                segments = await asyncio.to_thread(parse_transcript, body, mime, link.url)
            except CastfiveError as exc:
                log.warning("publisher transcript unusable episode=%s type=%s: %s", episode.id, mime, exc)
                continue
            if segments:
                return Transcript(episode.id, segments, source=f"publisher:{mime}", language=link.language)
        return None

    def _audio_path(self, episode: Episode) -> Path:
        suffix = Path(urlsplit(episode.audio_url or "").path).suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            suffix = ".audio"
        return self.audio_dir / f"{episode.id}{suffix}"

    async def _audio_file(self, episode: Episode, feed: Feed) -> Path:
        if not episode.audio_url:
            raise AudioError("The episode has no audio file and no usable transcript.")
        limit_s = self.settings.transcription.max_duration_hours * 3600
        if episode.duration_s and episode.duration_s > limit_s:
            check_duration(episode.duration_s, self.settings.transcription.max_duration_hours)
        path = self._audio_path(episode)
        if not await asyncio.to_thread(path.exists):
            async with self._downloads:
                await download_asset(
                    self.fetcher, episode.audio_url, path, feed=feed,
                    max_bytes=self.settings.http.audio_max_bytes,
                )
            self._crash_hook("downloaded")
        try:
            await asyncio.to_thread(sniff_audio, path)
            duration = await asyncio.to_thread(probe_duration, path)
            if duration is not None:
                check_duration(duration, self.settings.transcription.max_duration_hours)
        except AudioError:
            await asyncio.to_thread(path.unlink, missing_ok=True)  # never keep a bad file
            raise
        return path

    # --- insights ------------------------------------------------------------------------------

    async def _extract(self, episode: Episode, feed: Feed) -> Episode:
        transcript = await load_transcript(self.repos.store, episode.id)
        if transcript is None:  # blob lost: start over from the transcript step
            return await self._set_state(episode, EpisodeState.NEW)
        chapters = await self._chapters(episode, feed)
        insights = await self.extractor.extract(transcript, episode, feed.title, chapters)
        now = self.clock.now()
        insights = [i if i.created_at else dataclasses.replace(i, created_at=now) for i in insights]
        done = dataclasses.replace(
            episode, state=EpisodeState.DONE, last_error="", attempts=0, next_attempt_at=None
        )
        self._crash_hook("before:done")
        await self.repos.store.apply(
            self.repos.insights.changes(insights) + [self.repos.episodes.change(done)]
        )
        self._crash_hook("done")
        log.info("insights extracted episode=%s count=%d extractor=%s", episode.id, len(insights),
                 self.extractor.name)
        return done

    async def _chapters(self, episode: Episode, feed: Feed) -> tuple[Chapter, ...]:
        stored = await load_chapters(self.repos.store, episode.id)
        if stored or not episode.chapters_url:
            return stored or episode.chapters  # the feed's inline chapters stand in for a file
        try:
            body, _ = await fetch_asset(self.fetcher, episode.chapters_url, feed=feed,
                                        max_bytes=2 * 1024 * 1024)
            chapters = await asyncio.to_thread(parse_chapters, body)
        except CastfiveError as exc:  # chapters are a nicety: never fail an episode for them
            log.info("chapters unusable episode=%s: %s", episode.id, exc)
            return ()
        await save_chapters(self.repos.store, episode.id, chapters)
        return chapters

    # --- state ----------------------------------------------------------------------------------

    async def _set_state(self, episode: Episode, state: EpisodeState, **changes: object) -> Episode:
        updated = dataclasses.replace(episode, state=state, **changes)  # type: ignore[arg-type]
        await self.repos.episodes.put(updated)
        self._crash_hook(state.value)
        return updated

    async def _fail(self, episode: Episode, reason: str, *, permanent: bool = False) -> Episode:
        episode = await self.repos.episodes.get(episode.id) or episode  # a step may have moved it on
        attempts = episode.attempts + 1
        give_up = permanent or attempts >= self.settings.pipeline.max_attempts
        delay = timedelta(minutes=self.settings.pipeline.retry_base_minutes * 2 ** (attempts - 1))
        updated = dataclasses.replace(
            episode,
            attempts=attempts,
            last_error=reason,
            state=EpisodeState.FAILED if give_up else episode.state,
            next_attempt_at=None if give_up else self.clock.now() + delay,
        )
        await self.repos.episodes.put(updated)
        level = logging.WARNING if give_up else logging.INFO
        log.log(level, "episode %s episode=%s attempt=%d: %s",
                "failed" if give_up else "will retry", episode.id, attempts, reason)
        return updated

    async def _defer_until_tomorrow(self, episode: Episode, reason: str) -> Episode:
        episode = await self.repos.episodes.get(episode.id) or episode
        now = self.clock.now()
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
        updated = dataclasses.replace(episode, next_attempt_at=tomorrow, last_error=reason)
        await self.repos.episodes.put(updated)
        log.warning("extraction deferred episode=%s: %s", episode.id, reason)
        return updated
