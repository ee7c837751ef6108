"""Optional /healthz: last poll, pipeline backlog, last delivery tick; 503 when the tick stalls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from core.jobs.scheduler import RuntimeStatus

STALE_TICKS = 3  # this many tick intervals without a finished tick means delivery is stuck
STALE_SLACK = timedelta(seconds=60)  # plus this, so one slow round is not an outage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def health_report(status: RuntimeStatus, now: datetime, tick_seconds: float) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body): unhealthy when stopping or when no tick finished for too long."""
    limit = timedelta(seconds=STALE_TICKS * tick_seconds) + STALE_SLACK
    since = status.last_tick_at or status.started_at
    stalled = since is None or now - since > limit
    healthy = not status.stopping and not stalled
    body = {
        "ok": healthy,
        "stopping": status.stopping,
        "started_at": _iso(status.started_at),
        "last_poll_at": _iso(status.last_poll_at),
        "last_poll_error": status.last_poll_error or None,
        "last_tick_at": _iso(status.last_tick_at),
        "last_maintenance_at": _iso(status.last_maintenance_at),
        "backlog": status.backlog,
        "episodes": dict(status.episodes),
        "polls": status.polls,
        "ticks": status.ticks,
        "due": status.due,
        "messages_sent": status.messages_sent,
        "messages_failed": status.messages_failed,
    }
    if status.cluster:  # distributed mode only, so the local body stays as it was
        body["cluster"] = dict(status.cluster)
    return healthy, body


async def start_health_server(
    status: RuntimeStatus, host: str, port: int, *, now: Callable[[], datetime],
    tick_seconds: float = 60.0,
) -> web.AppRunner:
    """Serve GET /healthz as JSON (200 healthy, 503 not) until the returned runner is cleaned up."""

    async def healthz(request: web.Request) -> web.Response:
        healthy, body = health_report(status, now(), tick_seconds)
        return web.json_response(body, status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    # no access log: one line per probe every few seconds drowns the events that matter
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
