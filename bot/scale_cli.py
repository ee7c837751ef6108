"""The `castfive` subcommands of the distributed mode, registered in bot/cli.py by one hook each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bot.store_cli import add_store_parser, run_store
from bot.worker_cli import add_worker_parser, run_worker
from core.bootstrap import Services
from core.config import Settings


def add_scale_parsers(sub: argparse._SubParsersAction) -> None:
    """`castfive worker` and `castfive store migrate`."""
    add_worker_parser(sub)
    add_store_parser(sub)


# Commands that wire their own services (worker processes, two stores) instead of build_services.
SCALE_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "worker": run_worker,
    "store": run_store,
}


async def queue_scan(services: Services, *, quiet: bool) -> None:
    """`castfive scan` in distributed mode: queue due polls and unfinished episodes for the workers.

    Processing here too would race the workers for the same episodes.
    """
    from core.jobs.distributed.broker import build_broker, declare_actors
    from core.jobs.distributed.dispatch import ActorDispatcher
    from core.jobs.distributed.sweep import Sweeper

    settings = services.settings

    async def not_here(key: str) -> None:
        raise RuntimeError("actors run in `castfive worker` processes")

    broker = build_broker(settings.secrets.redis_url, settings.distributed)
    try:
        actors = declare_actors(broker, settings.distributed, not_here, not_here, not_here)
        report = await Sweeper(services.repos, services.pipeline, ActorDispatcher(actors),
                               services.clock, settings.distributed.redispatch_minutes).sweep()
    finally:
        broker.close()
    if not quiet or report.backlog:
        print(f"Queued {report.feeds_queued} feed poll(s) and {report.episodes_queued} episode(s) "
              "for the workers (`castfive worker`).", file=sys.stderr)
