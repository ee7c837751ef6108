"""Distributed stages and the sweep: the stored state decides, so duplicates and redeliveries do nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.config import DataSettings, PipelineSettings, Settings
from core.errors import TranscriptionError
from core.feeds.poller import FeedPoller
from core.jobs.distributed.locks import LocalLocks
from core.jobs.distributed.stages import StageRunner
from core.jobs.distributed.sweep import Sweeper
from core.jobs.pipeline import EpisodePipeline
from core.models import Episode, EpisodeState, Feed
from core.store.repos import Repos
from tests.fakes.clock import FakeClock
from tests.fakes.dispatcher import RecordingDispatcher
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeExtractor, FakeTranscriber
from tests.test_pipeline import NoFetcher, write_wav


class World:
    def __init__(self, tmp_path, transcriber=None) -> None:
        self.settings = Settings(data=DataSettings(dir=str(tmp_path / "data")),
                                 pipeline=PipelineSettings(max_attempts=3, retry_base_minutes=5))
        self.store = FakeStore()
        self.clock = FakeClock(datetime(2026, 11, 28, 6, tzinfo=UTC))
        self.repos = Repos(self.store)
        self.transcriber = transcriber or FakeTranscriber()
        self.extractor = FakeExtractor()
        self.pipeline = EpisodePipeline(self.repos, NoFetcher(), self.transcriber, self.extractor,
                                        self.clock, self.settings)
        self.poller = FeedPoller(NoFetcher(), self.store, self.clock, self.settings)
        self.locks = LocalLocks()
        self.sent = RecordingDispatcher()
        self.runner = StageRunner(self.repos, self.pipeline, self.poller, self.clock, self.locks, self.sent)
        self.tmp = tmp_path

    async def episode(self, episode_id: str) -> Episode:
        audio = write_wav(self.tmp / f"{episode_id}.wav")
        await self.repos.feeds.put(Feed(id="f1", url="/demo/feed.xml", title="Demo", origin="operator",
                                        next_poll_at=self.clock.now() + timedelta(days=1)))
        episode = Episode(id=episode_id, feed_id="f1", identity=episode_id, title=episode_id,
                          published_at=self.clock.now(), duration_s=1, audio_url=audio.as_uri(),
                          audio_type="audio/wav", page_url=None, description="")
        await self.repos.episodes.put(episode)
        return episode

    async def state(self, episode_id: str) -> EpisodeState:
        episode = await self.repos.episodes.get(episode_id)
        assert episode is not None
        return episode.state


@pytest.fixture
def world(tmp_path) -> World:
    return World(tmp_path)


async def test_transcribe_then_extract_each_run_once_however_often_the_message_comes(world) -> None:
    await world.episode("e1")
    first = await world.runner.transcribe("e1")
    assert first.result == "ran" and await world.state("e1") == EpisodeState.TRANSCRIBED
    assert world.sent.sent == [("extract", "e1")]
    for _ in range(3):  # redelivered or duplicated: the state says it is done
        assert (await world.runner.transcribe("e1")).result == "skipped"
    # each redelivery queues the extraction again, in case that message was the one lost
    assert world.sent.sent == [("extract", "e1")] * 4
    world.sent.sent.clear()
    done = await world.runner.extract("e1")
    assert done.result == "ran" and await world.state("e1") == EpisodeState.DONE
    assert (await world.runner.extract("e1")).result == "skipped"
    assert (await world.runner.transcribe("e1")).result == "skipped"
    assert len(world.transcriber.calls) == 1 and world.extractor.calls == ["e1"]
    assert len(await world.repos.insights.all()) == 1
    assert world.sent.sent == []  # nothing after done


async def test_a_stage_whose_episode_is_held_elsewhere_does_nothing(world) -> None:
    await world.episode("e1")
    async with world.locks.hold("castfive:episode:e1") as held:
        assert held
        assert (await world.runner.transcribe("e1")).result == "busy"
    assert world.transcriber.calls == [] and await world.state("e1") == EpisodeState.NEW


async def test_an_extract_message_before_the_transcript_exists_does_nothing(world) -> None:
    await world.episode("e1")
    assert (await world.runner.extract("e1")).result == "skipped"
    assert world.extractor.calls == [] and await world.state("e1") == EpisodeState.NEW


async def test_a_failed_transcription_waits_for_its_retry_time_instead_of_looping(tmp_path) -> None:
    world = World(tmp_path, FakeTranscriber(fail_times=1))
    await world.episode("e1")
    assert (await world.runner.transcribe("e1")).state == EpisodeState.AUDIO_DOWNLOADED
    assert world.sent.sent == []  # nothing queued: the retry is due in 5 minutes
    assert (await world.runner.transcribe("e1")).result == "skipped"  # a duplicate before then
    world.clock.advance(minutes=6)
    assert (await world.runner.transcribe("e1")).state == EpisodeState.TRANSCRIBED
    assert len(world.transcriber.calls) == 2


async def test_a_poison_episode_fails_after_max_attempts_and_others_go_on(tmp_path) -> None:
    class Poison(FakeTranscriber):
        async def transcribe(self, audio_path, on_progress=None):
            if "bad" in audio_path.name:
                raise TranscriptionError("the decoder fell over")
            return await super().transcribe(audio_path, on_progress)

    world = World(tmp_path, Poison())
    await world.episode("bad")
    await world.episode("good")
    for _ in range(3):
        await world.runner.transcribe("bad")
        world.clock.advance(hours=1)
    assert await world.state("bad") == EpisodeState.FAILED
    assert (await world.runner.transcribe("bad")).result == "skipped"
    assert (await world.runner.transcribe("good")).state == EpisodeState.TRANSCRIBED


async def test_the_sweep_queues_each_due_feed_and_unfinished_episode_once_per_state(world) -> None:
    await world.episode("e1")
    await world.episode("e2")
    await world.repos.feeds.put(Feed(id="f2", url="/x.xml", title="Due", origin="operator"))
    sweeper = Sweeper(world.repos, world.pipeline, world.sent, world.clock, redispatch_minutes=60)
    report = await sweeper.sweep()
    assert sorted(world.sent.sent) == [("poll", "f2"), ("transcribe", "e1"), ("transcribe", "e2")]
    assert report.backlog == 2 and report.episodes == {"new": 2}
    await sweeper.sweep()  # nothing changed: nothing queued again
    assert len(world.sent.sent) == 3
    await world.runner.transcribe("e1")  # moved on: its next stage is queued by the sweep too
    world.sent.sent.clear()
    await sweeper.sweep()
    assert world.sent.sent == [("extract", "e1")]
    world.clock.advance(minutes=61)  # a message lost with Redis is sent again
    world.sent.sent.clear()
    await sweeper.sweep()
    assert sorted(world.sent.sent) == [("extract", "e1"), ("poll", "f2"), ("transcribe", "e2")]


async def test_a_poll_message_polls_a_due_feed_once_and_queues_its_new_episodes(world, tmp_path) -> None:
    from dataclasses import replace

    from tests.e2e.content import Item, build_feed

    show = tmp_path / "show"
    build_feed(show, "", "Show", [Item("one", "One", "one.vtt")])
    feed, first = await world.poller.add_feed(str(show / "feed.xml"), origin="operator")
    build_feed(show, "", "Show", [Item("two", "Two", "two.vtt"), Item("one", "One", "one.vtt")])
    await world.repos.feeds.put(replace(feed, next_poll_at=world.clock.now()))
    world.sent.sent.clear()
    async with world.locks.hold(f"castfive:feed:{feed.id}"):
        assert (await world.runner.poll_feed(feed.id)).result == "busy"
    assert (await world.runner.poll_feed(feed.id)).result == "ran"
    new = [e for e in await world.repos.episodes.all() if e.id not in {f.id for f in first}]
    assert [e.title for e in new] == ["Two"]
    assert world.sent.sent == [("transcribe", new[0].id)]
    assert (await world.runner.poll_feed(feed.id)).result == "skipped"  # a duplicate: not due again
    assert (await world.runner.poll_feed("no-such-feed")).result == "skipped"
    assert world.sent.sent == [("transcribe", new[0].id)]


async def test_a_queue_outage_makes_the_poll_job_log_one_line_and_carry_on(world, caplog) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from core.bootstrap import build_services
    from core.jobs.distributed.scheduler import DistributedScheduler
    from tests.test_pipeline import NoFetcher

    class DownDispatcher:
        async def send(self, stage: str, key: str) -> None:
            raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    services = build_services(world.settings, store=world.store, clock=world.clock, fetcher=NoFetcher(),
                              transcriber=world.transcriber, extractor=world.extractor)
    await world.episode("e1")
    scheduler = DistributedScheduler(services, DownDispatcher())
    await scheduler.poll_and_process()
    assert scheduler.status.last_poll_error == "ConnectionError"
    (line,) = [r for r in caplog.records if "poll job" in r.getMessage()]
    assert "the queue is unreachable" in line.getMessage() and line.exc_info is None
