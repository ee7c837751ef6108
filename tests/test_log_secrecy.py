"""A whole run's log (start, poll, deliver, a question, stop, at debug level) holds no secret.

Secrets: the bot token (raw, URL-encoded, and in its Bot API URL form), the LLM key (which the
fake LLM echoes back in an error, as real providers do), and the private feeds' URLs: one with
user:pass@ credentials and a query key, one with ?token= that answers 500, and transcript and
audio URLs carrying a token. The log may name those feeds only by id or in redacted form.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.logging_setup import RedactSecrets
from core.ids import feed_id_for
from tests.e2e.content import Item, build_feed, seed_store
from tests.e2e.fakes import Fault, scripted_model
from tests.e2e.process import TELEGRAM_TOKEN, free_port, wait_until
from tests.fakes.fake_llm_server import FAKE_MODEL, Recorded, Scripted

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo"
QUERY_SECRET = "secret123"
PASSWORD = "hunter2pass"
LLM_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"
CHAT = 4242


def key_echoing_model(request: Recorded) -> Scripted:
    """Insights as usual; every answer request fails with the key in the message."""
    if "follow-up question" in request.system:
        body = {"error": {"message": f"Incorrect API key provided: {LLM_KEY}.",
                          "type": "invalid_request_error", "code": "invalid_api_key"}}
        return Scripted(status=401, raw_body=json.dumps(body))
    return scripted_model(request)


async def test_a_full_run_logs_no_token_no_key_and_no_private_feed_url(
        telegram, feed_server, fake_llm, make_bot, tmp_path):
    show = tmp_path / "show"
    show.mkdir()
    shutil.copy(DEMO / "episode-3.vtt", show / "ep3.vtt")
    shutil.copy(DEMO / "episode-3.mp3", show / "episode.mp3")
    feed_server.mount("private", show)
    port = feed_server.base_url.rsplit(":", 1)[1]
    build_feed(show, f"{feed_server.base_url}/private/", "Members Only",
               [Item("members-1", "Pricing Without Fear", "ep3.vtt", url_suffix=f"?token={QUERY_SECRET}")])
    private_ok = f"http://listener:{PASSWORD}@127.0.0.1:{port}/private/feed.xml?key={QUERY_SECRET}"
    private_bad = f"{feed_server.base_url}/broken/feed.xml?token={QUERY_SECRET}"
    feed_server.fail("/broken/feed.xml", Fault(status=500))
    fake_llm.default = key_echoing_model
    telegram.fail("getUpdates", 502, "Bad Gateway")  # PTB logs its polling error
    await seed_store(tmp_path / "data", [CHAT], insights=False, paused=True)
    bot = make_bot({
        "feeds": {"catalogue": [private_ok, private_bad]},
        "http": {"allow_private_addresses": True},
        "llm": {"model": FAKE_MODEL, "api_base": fake_llm.api_base},
        "telegram": {"api_base_url": telegram.base_url},
        "health": {"enabled": True, "port": free_port()},
    }, CASTFIVE_LLM_API_KEY=LLM_KEY)
    bot.extra_args = ["-v"]  # debug level: the most a log will ever say
    await bot.start()
    await bot.wait_log("backlog=0", timeout=60)  # polled, transcript fetched, insights extracted

    telegram.push_message(CHAT, "/resume", chat_type="private")  # now due: the next tick delivers
    await wait_until(lambda: len(telegram.digest_messages(CHAT)) >= 2, 30, "the digest", bot)
    first = telegram.digest_messages(CHAT)[0]
    question = telegram.push_message(CHAT, "Why would customers stay after a price rise?",
                                     reply_to=first.message_id, chat_type="private")
    await telegram.wait_for("sendMessage", lambda p: (p.get("reply_parameters") or {}).get("message_id")
                            == question["message_id"], timeout=30)
    code, _ = await bot.stop(signal.SIGTERM)
    assert code == 0

    output = bot.all_output()
    assert "delivery tick" in output and "question answered" in output  # the run did it all
    secrets = {
        "bot token": TELEGRAM_TOKEN,
        "bot token, URL-encoded": quote(TELEGRAM_TOKEN, safe=""),
        "token's secret half": TELEGRAM_TOKEN.split(":", 1)[1],
        "LLM key": LLM_KEY,
        "feed query token": QUERY_SECRET,
        "feed password": PASSWORD,
    }
    leaked = {name: _context(output, value) for name, value in secrets.items() if value in output}
    assert not leaked, f"secrets in the log: {leaked}"
    assert feed_id_for(private_ok) in output and feed_id_for(private_bad) in output  # named by id
    assert any("follow-up question" in r.system for r in fake_llm.requests)  # so the key came back


def _context(text: str, secret: str) -> str:
    at = text.index(secret)
    return text[max(0, at - 120): at + len(secret) + 40]


ORDINARY = ("https://feeds.example.com/episodes/123.rss",
            "https://example.com/podcasts/the-daily-show/episode-2024-the-long-recap.mp3",
            "https://example.com/feeds/SomeOrdinaryShowName/rss")


@pytest.mark.parametrize("url, secret", [
    ("https://feeds.example.com/episodes/8f3a9c2e1b7d4f6a.rss", "8f3a9c2e1b7d4f6a"),
    ("https://feeds.example.com/u/123e4567-e89b-12d3-a456-426614174000/feed", "123e4567-e89b-12d3"),
    ("https://cdn.example.com/p/aB3dE5gH7jK9mN1pQ3sT5v/audio.mp3", "aB3dE5gH7jK9mN1pQ3sT5v"),
    ("https://cdn.example.com/p/Xk9_vQ2-Lm4nRt7yWz8aBc/feed.xml", "Xk9_vQ2-Lm4nRt7yWz8aBc"),
])
def test_token_like_path_segments_are_masked_and_ordinary_paths_stay_readable(url: str, secret: str) -> None:
    line = RedactSecrets([]).redact(f"poll failed for {url}: timeout; fine: {' '.join(ORDINARY)}")
    assert secret not in line and "***" in line
    assert url.split("/")[2] in line  # the host still says which server it was
    assert all(ordinary in line for ordinary in ORDINARY)


def test_chat_library_debug_lines_with_message_texts_are_not_printed_at_debug_level() -> None:
    # A fresh interpreter: setup_logging changes process-wide state.
    script = (
        "import logging\n"
        "from bot.logging_setup import setup_logging\n"
        "setup_logging(logging.DEBUG)\n"
        "for name in ('telegram.ext.Application', 'telegram._bot', 'telegram.ext', 'httpx',\n"
        "             'discord.state'):\n"
        "    logging.getLogger(name).debug('update text=/add https://private.test/feed/hunter')\n"
        "logging.getLogger('castfive.poller').debug('own debug line')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert "own debug line" in done.stderr  # debug level really was on
    assert "/add" not in done.stderr and "hunter" not in done.stderr
