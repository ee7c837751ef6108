"""A local feed server that counts its fetches, and OPML files pointing at it, for import tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import quoteattr

from aiohttp import web

from core.adapters.http import SafeFetcher
from core.bootstrap import Services, build_services
from core.config import FeedSettings, HttpSettings, Settings
from tests.fakes.chat_port import FakeChatPort
from tests.fakes.clock import FakeClock
from tests.fakes.memory_store import FakeStore
from tests.fakes.pipeline_fakes import FakeTranscriber

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SLOW_S = 3.0  # far beyond the time budgets the tests set


def feed_xml(n: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Show {n}</title><item><guid>ep-{n}</guid><title>Episode {n}</title>"
        "<pubDate>Sat, 28 Nov 2026 06:00:00 GMT</pubDate>"
        f'<enclosure url="https://cdn.test/{n}.mp3" type="audio/mpeg" length="1000"/>'
        "</item></channel></rss>"
    ).encode()


@dataclass
class FeedServer:
    """/ok/N.xml a tiny show, /slow/N.xml the same after SLOW_S, /missing/N.xml a 404."""

    hits: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{kind}/{n}.xml", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.Response:
        kind, n = request.match_info["kind"], int(request.match_info["n"])
        self.hits.append(request.path)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(SLOW_S if kind == "slow" else 0.02)  # 0.02: fetches overlap
            if kind == "missing":
                raise web.HTTPNotFound()
            return web.Response(body=feed_xml(n), content_type="application/rss+xml")
        finally:
            self.in_flight -= 1


def opml(urls: Iterable[str]) -> bytes:
    """An OPML file listing the URLs, each titled by its path ('ok/3.xml')."""
    outlines = "".join(f"<outline type='rss' text={quoteattr(u.split('/', 3)[-1])} xmlUrl={quoteattr(u)}/>"
                       for u in urls)
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


async def build_world(**feed_settings: object) -> tuple[Services, SafeFetcher]:
    """The real services over a FakeStore with the guarded HTTP client (loopback allowed)."""
    settings = Settings(http=HttpSettings(allow_private_addresses=True, total_timeout_s=20,
                                          connect_timeout_s=5),
                        feeds=FeedSettings(**feed_settings))  # type: ignore[arg-type]
    fetcher = SafeFetcher(settings.http)
    await fetcher.start()
    services = build_services(settings, clock=FakeClock(NOW), store=FakeStore(), fetcher=fetcher,
                              transcriber=FakeTranscriber(), ports={"telegram": FakeChatPort()})
    return services, fetcher
