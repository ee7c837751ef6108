"""The `castfive` subcommands of the distributed mode, registered in bot/cli.py by one hook each."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bot.store_cli import add_store_parser, run_store
from bot.worker_cli import add_worker_parser, run_worker
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
