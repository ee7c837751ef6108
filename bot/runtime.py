"""`python -m bot`: load settings, wire the core, run the scheduler and chat adapters on one loop.

Shutdown (SIGTERM, Ctrl-C) goes in order: no new job or digest message starts, messages already
with a platform finish and are recorded, the chat adapters stop (their handlers finish), then the
store flushes and closes. A second signal exits at once; the delivery ledger makes that as safe
as a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from typing import Any

from bot.cli import find_config
from bot.logging_setup import setup_logging
from core.bootstrap import Services, build_services
from core.config import Settings, load_settings
from core.errors import CastfiveError
from core.health import start_health_server
from core.jobs.scheduler import CastfiveScheduler

log = logging.getLogger("castfive.runtime")

ADAPTER_STOP_S = 3.0  # a handler still waiting on a slow LLM is not worth more of the shutdown
DRAIN_S = 3.0  # how long digest messages already sent to a platform get to be confirmed
THREAD_GRACE_S = 1.0  # then a worker thread still busy (a transcription) is abandoned

NO_TOKEN_MESSAGE = """castfive: no chat platform is configured, so there is nobody to deliver to.
Set TELEGRAM_BOT_TOKEN (from @BotFather) and/or DISCORD_BOT_TOKEN (from the Discord developer portal)
in the environment, then run `python -m bot` again.
To see today's five in the terminal without any token, run `castfive digest`."""


def build_adapters(services: Services, settings: Settings) -> list[Any]:
    """The chat adapters whose tokens are set (constructed only: no I/O yet)."""
    adapters: list[Any] = []
    if settings.secrets.telegram_token:
        from bot.telegram_bot import TelegramAdapter

        adapters.append(TelegramAdapter.from_settings(services.api, settings))
    if settings.secrets.discord_token:
        from bot.discord_bot import DiscordAdapter

        adapters.append(DiscordAdapter.from_settings(services.api, settings))
    return adapters


class Runtime:
    """The running service: what was started, so shutdown undoes exactly that, in order."""

    def __init__(self, services: Services, adapters: list[Any]) -> None:
        self.services = services
        self.adapters = adapters
        self.scheduler = CastfiveScheduler(services)
        self.lease: Any = None  # distributed mode: only the lease holder starts anything
        if services.settings.distributed.mode == "distributed":
            from core.jobs.distributed.runtime import distributed_scheduling

            self.scheduler, self.lease = distributed_scheduling(services)
        self.started_adapters: list[Any] = []
        self.health: Any = None
        self._services_started = False

    async def start(self) -> None:
        """Open the store, start each adapter, then the jobs, then /healthz."""
        settings = self.services.settings
        if self.lease is not None:
            await self.lease.acquire()  # a hot standby waits here: no adapter, no job, no send
        await self.services.start()
        self._services_started = True
        # The sent history and caches loaded at start live as long as the process: keep them out
        # of the collector's scans, whose passes over them were the longest event-loop stalls.
        gc.freeze()
        for adapter in self.adapters:
            await adapter.start()
            self.started_adapters.append(adapter)
            self.services.add_port(self.scheduler.gated(adapter))
            log.info("adapter started platform=%s", adapter.platform)
        self.scheduler.start()
        if settings.health.enabled:
            self.health = await start_health_server(
                self.scheduler.status, settings.health.host, settings.health.port,
                now=self.services.clock.now, tick_seconds=self.scheduler.tick_seconds,
            )
            log.info("health endpoint on http://%s:%d/healthz", settings.health.host, settings.health.port)

    async def stop(self) -> None:
        """Drain deliveries, stop adapters, stop /healthz, flush and close the store."""
        await self.scheduler.stop(DRAIN_S)
        for adapter in reversed(self.started_adapters):
            try:
                await asyncio.wait_for(adapter.stop(), timeout=ADAPTER_STOP_S)
            except TimeoutError:
                log.warning("adapter did not stop within %.0fs platform=%s", ADAPTER_STOP_S, adapter.platform)
            except Exception:
                log.exception("adapter did not stop cleanly platform=%s", adapter.platform)
        if self.health is not None:
            await self.health.cleanup()
        if self._services_started:
            await self.services.close()
        if self.lease is not None:
            await self.lease.release()


async def serve(settings: Settings, stop: asyncio.Event, *, services: Services | None = None,
                adapters: list[Any] | None = None) -> None:
    """Run until `stop` is set (also during start-up), then shut down cleanly."""
    services = services or build_services(settings)
    runtime = Runtime(services, build_adapters(services, settings) if adapters is None else adapters)
    starting = asyncio.create_task(runtime.start(), name="castfive-start")
    stopping = asyncio.create_task(stop.wait(), name="castfive-stop-signal")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a start-up error (bad token, unusable data folder) ends here
            log.info("castfive running: feeds polled and digests delivered on schedule")
            await stopping
        else:
            log.info("stop requested during start-up")
    finally:
        log.info("shutting down")
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        await runtime.stop()
        log.info("stopped")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """--config PATH (else $CASTFIVE_CONFIG, ./config.toml, ./config.example.toml) and -v."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Run the Castfive service.")
    parser.add_argument("--config", help="TOML config file (default: $CASTFIVE_CONFIG or ./config.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 2 for a bad config or no chat token, 1 when start-up fails, 0 after a clean stop."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = load_settings(find_config(args.config))
    except CastfiveError as exc:
        print(f"castfive: {exc}", file=sys.stderr)
        return 2
    if not (settings.secrets.telegram_token or settings.secrets.discord_token):
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return 2
    setup_logging(logging.DEBUG if args.verbose else logging.INFO, settings.secrets.for_log_scrubbing())
    return run_until_stopped(settings)


def run_until_stopped(settings: Settings) -> int:
    """Run the service on a fresh loop; returns the exit status (may not return: see below)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        code = loop.run_until_complete(_main_async(settings))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()  # shuts the default executor down without waiting for busy threads
    _abandon_busy_threads(code)
    return code


async def _main_async(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = {"count": 0}

    def on_signal(sig: signal.Signals) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            log.info("received %s: finishing what is in flight, then stopping", sig.name)
            stop.set()
        else:  # the operator insists: the ledger makes this no worse than a crash
            log.warning("received %s again: exiting now", sig.name)
            logging.shutdown()
            os._exit(130 if sig == signal.SIGINT else 143)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await serve(settings, stop)
    except CastfiveError as exc:
        log.error("cannot run: %s", exc)
        return 1
    except Exception:
        log.exception("castfive stopped on an unexpected error")
        return 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0


def _abandon_busy_threads(code: int) -> None:
    """Exit now if a worker thread is still busy (a long transcription): everything is saved.

    Python would otherwise wait at exit for that thread, which can take as long as the episode;
    the pipeline resumes it from its last saved step at the next start.
    """
    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for thread in busy:
        thread.join(THREAD_GRACE_S / max(1, len(busy)))
    busy = [t for t in busy if t.is_alive()]
    if busy:
        log.info("leaving %d busy worker thread(s) behind; their work resumes at next start", len(busy))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
