"""DiscordAdapter start and stop: settings, bad tokens, refused intents, unreachable Discord."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
import pytest

from bot.discord_bot import DiscordAdapter
from core.config import DiscordSettings, Secrets, Settings
from core.errors import CastfiveError, ConfigError
from tests.fakes.discord_payloads import MESSAGE_CONTENT, TOKEN
from tests.fakes.fake_castfive_api import FakeCastfiveApi

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord



def adapter_for(fake: FakeDiscord, token: str = TOKEN) -> DiscordAdapter:
    return DiscordAdapter(FakeCastfiveApi(), token, api_base_url=fake.api_base_url,
                          gateway_url=fake.gateway_url, ready_timeout=5, guild_ready_timeout=0.05)


async def test_from_settings_takes_the_token_and_urls_and_starts_against_them(
    fake_discord: FakeDiscord,
) -> None:
    settings = Settings(discord=DiscordSettings(api_base_url=fake_discord.api_base_url,
                                                gateway_url=fake_discord.gateway_url),
                        secrets=Secrets(discord_token=TOKEN))
    adapter = DiscordAdapter.from_settings(FakeCastfiveApi(), settings)
    adapter.guild_ready_timeout = 0.05
    assert adapter.platform == "discord" and fake_discord.requests == []  # the constructor does no I/O
    assert TOKEN not in repr(adapter)
    await adapter.start()
    try:
        assert fake_discord.identified == 1 and fake_discord.intents[0] & MESSAGE_CONTENT
        assert fake_discord.calls("PUT", "/applications/")  # commands synced at start
    finally:
        await adapter.stop()
        await adapter.stop()  # idempotent
    assert discord.http.Route.BASE == "https://discord.com/api/v10"  # process-wide URLs put back


async def test_a_rejected_token_is_a_config_error_that_never_shows_the_token(
        fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "MTIz.not-the-right-token.xyz"
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN") as raised:
        await adapter_for(fake_discord, secret).start()
    assert secret not in str(raised.value) and secret not in caplog.text


async def test_without_the_message_content_intent_the_bot_still_starts(
        fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    fake_discord.privileged_allowed = False
    adapter = adapter_for(fake_discord)
    await adapter.start()
    try:
        assert fake_discord.identified == 1 and not fake_discord.intents[-1] & MESSAGE_CONTENT
        assert "Message Content intent" in caplog.text
    finally:
        await adapter.stop()


async def test_an_unreachable_discord_fails_start_with_a_clear_error(fake_discord: FakeDiscord) -> None:
    adapter = adapter_for(fake_discord)
    await fake_discord.close()
    with pytest.raises(CastfiveError, match="Could not log in to Discord"):
        await adapter.start()


async def test_urls_that_are_not_http_or_ws_are_refused() -> None:
    with pytest.raises(ConfigError, match="api_base_url"):
        await DiscordAdapter(FakeCastfiveApi(), TOKEN, api_base_url="file:///etc").start()
    with pytest.raises(ConfigError, match="gateway_url"):
        await DiscordAdapter(FakeCastfiveApi(), TOKEN, gateway_url="http://x").start()
