"""A real aiohttp.web server on 127.0.0.1 for tests: start an app, get its base URL, stop it.

Use the context manager directly:

    async with serve_app(app) as base_url:
        ...

For malformed HTTP (garbage status lines, bodies cut short) `serve_raw` runs a plain TCP server
whose handler writes whatever bytes it likes.

Or the `http_server` fixture (import it into your test module or conftest), which stops every
server it started when the test ends:

    async def test_x(http_server):
        base = await http_server(app)                 # an aiohttp.web.Application
        base = await http_server({"/feed": handler})  # or a path -> handler mapping
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import pytest_asyncio
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AppOrRoutes = web.Application | Mapping[str, Handler]


def make_app(routes: Mapping[str, Handler]) -> web.Application:
    """An app answering GET (and HEAD) on each path with its handler."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    return app


@asynccontextmanager
async def serve_app(app: AppOrRoutes, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on `host` at a free port; yields the base URL without a trailing slash."""
    if not isinstance(app, web.Application):
        app = make_app(app)
    # shutdown_timeout keeps cleanup quick when a test leaves a slow handler running.
    runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{port}"
    finally:
        await runner.cleanup()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve_raw(handler: RawHandler, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """A TCP server on `host` at a free port calling `handler` per connection; yields base URL."""

    running: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client under test may hang up first; that is often the point
        finally:
            writer.close()
            running.discard(task)

    server = await asyncio.start_server(on_connect, host, 0)
    port = server.sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    try:
        yield f"http://{shown}:{port}"
    finally:
        server.close()
        for task in list(running):  # handlers still sleeping or reading: stop them
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await server.wait_closed()


ServerStarter = Callable[..., Awaitable[str]]


@pytest_asyncio.fixture
async def http_server() -> AsyncIterator[ServerStarter]:
    """A function `await http_server(app_or_routes, host="127.0.0.1") -> base_url`."""
    async with AsyncExitStack() as stack:

        async def start(app: AppOrRoutes, host: str = "127.0.0.1") -> str:
            return await stack.enter_async_context(serve_app(app, host))

        yield start
