"""Load settings, wire the core, run the scheduler and the chat adapters on one event loop."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from bot.cli import find_config
from bot.logging_setup import setup_logging
from core.bootstrap import Services, build_services
from core.config import Settings, load_settings
from core.errors import CastfiveError
from core.health import start_health_server
from core.scheduler import CastfiveScheduler

log = logging.getLogger("castfive.runtime")

NO_TOKEN_MESSAGE = """castfive: no chat platform is configured, so there is nobody to deliver to.
Set TELEGRAM_BOT_TOKEN (from @BotFather) and/or DISCORD_BOT_TOKEN (from the Discord developer portal)
in the environment, then run `python -m bot` again.
To see today's five in the terminal without any token, run `castfive digest`."""


def build_adapters(services: Services, settings: Settings) -> list[Any]:
    """The chat adapters whose tokens are set."""
    adapters: list[Any] = []
    if settings.secrets.telegram_token:
        from bot.telegram_bot import TelegramAdapter

        adapters.append(TelegramAdapter.from_settings(services.api, settings))
    if settings.secrets.discord_token:
        from bot.discord_bot import DiscordAdapter

        adapters.append(DiscordAdapter.from_settings(services.api, settings))
    return adapters


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then shut down cleanly."""
    services = build_services(settings)
    await services.start()
    adapters = build_adapters(services, settings)
    scheduler = CastfiveScheduler(services)
    health = None
    try:
        for adapter in adapters:
            await adapter.start()
            services.add_port(adapter)
            log.info("adapter started platform=%s", adapter.platform)
        scheduler.start()
        if settings.health.enabled:
            health = await start_health_server(scheduler.status, settings.health.host, settings.health.port)
        log.info("castfive running: feeds polled and digests delivered on schedule")
        await stop.wait()
    finally:
        log.info("shutting down")
        scheduler.shutdown()
        for adapter in adapters:
            try:
                await asyncio.wait_for(adapter.stop(), timeout=5)
            except Exception:
                log.exception("adapter did not stop cleanly platform=%s", adapter.platform)
        if health is not None:
            await health.cleanup()
        await services.close()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Entry point: exits with a clear message when no chat token is set."""
    args = argv if argv is not None else sys.argv[1:]
    config = find_config(args[1] if len(args) >= 2 and args[0] == "--config" else None)
    try:
        settings = load_settings(config)
    except CastfiveError as exc:
        print(f"castfive: {exc}", file=sys.stderr)
        return 2
    setup_logging(logging.INFO, (settings.secrets.telegram_token, settings.secrets.discord_token,
                                 settings.secrets.llm_api_key))
    if not (settings.secrets.telegram_token or settings.secrets.discord_token):
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return 2
    return asyncio.run(_main_async(settings))


async def _main_async(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(settings, stop)
    except CastfiveError as exc:
        log.error("cannot run: %s", exc)
        return 1
    return 0
