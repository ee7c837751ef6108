"""`castfive worker`: Dramatiq worker processes for the transcribe, extract and poll queues."""

from __future__ import annotations

import argparse
import os
import sys

from core.config import Settings
from core.jobs.distributed.dispatch import STAGES

WORKER_MODULE = "bot.worker_app:broker"  # dramatiq uses its own default broker without the name


def add_worker_parser(sub: argparse._SubParsersAction) -> None:
    """Register `castfive worker`."""
    worker = sub.add_parser("worker", help="run distributed workers (mode = \"distributed\")")
    worker.add_argument("--queues", default=",".join(STAGES),
                        help="comma-separated queues to take work from (default: poll,transcribe,extract)")
    worker.add_argument("--processes", type=int, default=1,
                        help="worker processes; each loads the speech model once (default: 1)")
    worker.add_argument("--threads", type=int, default=2,
                        help="messages in flight per process (default: 2)")


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Start Dramatiq with our broker module; returns when every worker process has stopped."""
    from bot.cli import find_config  # bot.cli registers this command: imported late, no cycle

    config_path = find_config(args.config)
    if settings.distributed.mode != "distributed":
        print('castfive: workers need [distributed] mode = "distributed" in the config, with '
              "CASTFIVE_DATABASE_URL and CASTFIVE_REDIS_URL set", file=sys.stderr)
        return 2
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(STAGES))
    if unknown or not queues:
        print(f"castfive: unknown queue(s) {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(STAGES)}", file=sys.stderr)
        return 2
    if args.processes < 1 or args.threads < 1:
        print("castfive: --processes and --threads must be at least 1", file=sys.stderr)
        return 2
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    if config_path:  # the worker processes read the same file
        os.environ["CASTFIVE_CONFIG"] = str(os.path.abspath(config_path))
    os.environ["CASTFIVE_WORKER_QUEUES"] = ",".join(queues)
    os.environ["CASTFIVE_WORKER_THREADS"] = str(args.threads)
    argv = [WORKER_MODULE, "--processes", str(args.processes), "--threads", str(args.threads),
            "--queues", *queues, "--skip-logging"]
    code = dramatiq_main(make_argument_parser().parse_args(argv))
    return int(code or 0)
