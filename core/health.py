"""Optional /healthz: last poll, pipeline backlog, last delivery tick."""

from __future__ import annotations

from aiohttp import web

from core.scheduler import RuntimeStatus


def _iso(value) -> str | None:
    return value.isoformat() if value else None


async def start_health_server(status: RuntimeStatus, host: str, port: int) -> web.AppRunner:
    """Serve GET /healthz as JSON until the returned runner is cleaned up."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "last_poll_at": _iso(status.last_poll_at),
                "last_tick_at": _iso(status.last_tick_at),
                "backlog": status.backlog,
                "polls": status.polls,
                "ticks": status.ticks,
            }
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
