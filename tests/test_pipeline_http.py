"""Feed -> transcript -> insights through the real safe client and a real local server."""

from __future__ import annotations

import dataclasses
import math
import struct
import wave
from io import BytesIO

from aiohttp import web

from core.adapters.http import SafeFetcher
from core.config import HttpSettings, Settings
from core.feeds.poller import FeedPoller
from core.jobs.pipeline import EpisodePipeline
from core.models import EpisodeState
from core.store.blobs import load_transcript
from core.store.repos import Repos
from tests.fakes.http_server import serve_app
from tests.fakes.pipeline_fakes import FakeExtractor, FakeTranscriber

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>Local Show</title><link>http://example.org</link><description>d</description>
<item><title>With transcript</title><guid>ep-1</guid><pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate>
  <enclosure url="{base}/audio/1.wav" type="audio/wav" length="32044"/>
  <podcast:transcript url="{base}/t/1.json" type="application/json"/>
  <podcast:transcript url="{base}/t/1.srt" type="application/srt"/></item>
<item><title>Transcript 404s</title><guid>ep-2</guid><pubDate>Thu, 26 Nov 2026 10:00:00 GMT</pubDate>
  <enclosure url="{base}/audio/2.wav" type="audio/wav" length="32044"/>
  <podcast:transcript url="{base}/t/missing.vtt" type="text/vtt"/></item>
</channel></rss>"""

JSON_TRANSCRIPT = b"""{"version": "1.0.0", "segments": [
 {"speaker": "Host", "startTime": 0.5, "endTime": 4.0, "body": "Welcome to the show."},
 {"speaker": "Guest", "startTime": 4.0, "endTime": 12.0,
  "body": "Index funds beat most active managers over fifteen years, because fees compound."}]}"""


def wav_bytes(seconds: float = 1.0) -> bytes:
    buffer = BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(n / 5)))
                                 for n in range(int(16000 * seconds))))
    return buffer.getvalue()


async def test_an_episode_with_a_publisher_transcript_never_downloads_its_audio(
        tmp_path, fake_store, fake_clock):
    requests: list[str] = []
    base_holder: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        requests.append(request.path)
        if request.path == "/feed.xml":
            return web.Response(text=FEED.format(base=base_holder[0]), content_type="application/rss+xml")
        if request.path == "/t/1.json":
            return web.Response(body=JSON_TRANSCRIPT, content_type="application/json")
        if request.path.startswith("/audio/"):
            return web.Response(body=wav_bytes(), content_type="audio/wav")
        return web.Response(status=404, text="not found")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    settings = Settings(http=HttpSettings(allow_private_addresses=True))
    settings = dataclasses.replace(settings, data=dataclasses.replace(settings.data, dir=str(tmp_path)))
    async with serve_app(app) as base, SafeFetcher(settings.http) as fetcher:
        base_holder.append(base)
        repos = Repos(fake_store)
        poller = FeedPoller(fetcher, fake_store, fake_clock, settings)
        _, episodes = await poller.add_feed(f"{base}/feed.xml", origin="user")
        transcriber = FakeTranscriber()
        pipeline = EpisodePipeline(repos, fetcher, transcriber, FakeExtractor(), fake_clock, settings)
        report = await pipeline.run_pending()

    assert sorted(report.extracted) == sorted(e.id for e in episodes)
    by_title = {e.title: e for e in await repos.episodes.all()}
    with_transcript = by_title["With transcript"]
    assert with_transcript.state == EpisodeState.DONE
    assert with_transcript.transcript_source == "publisher:application/json"
    assert "/audio/1.wav" not in requests, "no audio download for an episode with a transcript"
    assert "/t/1.srt" not in requests, "the best format was enough"
    transcript = await load_transcript(fake_store, with_transcript.id)
    assert transcript.segments[1].speaker == "Guest"
    # the 404 transcript falls back to speech-to-text of the downloaded audio
    assert "/t/missing.vtt" in requests and "/audio/2.wav" in requests
    assert by_title["Transcript 404s"].transcript_source == "fake-stt"
    assert len(transcriber.calls) == 1
