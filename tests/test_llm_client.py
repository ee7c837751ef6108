"""LiteLLMClient through real litellm against the local fake OpenAI-compatible server."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import pytest

from core.adapters.llm_litellm import LiteLLMClient
from core.errors import LLMError
from tests.conftest import REPO
from tests.fakes.fake_llm_server import FakeLLMServer, Scripted

KEY = "sk-test-secret-4242"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def test_importing_the_adapter_does_not_import_litellm() -> None:
    code = (
        "import sys, core.adapters.llm_litellm as m; "
        "m.LiteLLMClient(__import__('core.config').config.LLMSettings(model='openai/x'), 'k'); "
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
    )
    assert out.stdout.strip() == "False", out.stderr


async def test_a_reply_carries_text_usage_and_a_zero_cost_for_an_unknown_model(
    fake_llm: FakeLLMServer,
) -> None:
    fake_llm.reply("hi there", prompt_tokens=12, completion_tokens=3)
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    reply = await client.complete(MESSAGES, max_tokens=50)
    assert reply.text == "hi there"
    assert (reply.prompt_tokens, reply.completion_tokens) == (12, 3)
    assert reply.cost_usd == 0.0
    assert reply.model == "openai/fake-model"
    sent = fake_llm.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "fake-model"
    assert sent.body["max_tokens"] == 50
    assert sent.body["messages"] == MESSAGES
    assert "tools" not in sent.body and "response_format" not in sent.body
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


async def test_json_mode_asks_for_a_json_object(fake_llm: FakeLLMServer) -> None:
    fake_llm.reply_json({"ok": True})
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    reply = await client.complete(MESSAGES, max_tokens=20, json_mode=True)
    assert reply.text == '{"ok": true}'
    assert fake_llm.requests[0].body["response_format"] == {"type": "json_object"}


async def test_an_empty_or_null_content_comes_back_as_empty_text(fake_llm: FakeLLMServer) -> None:
    fake_llm.reply(None)
    fake_llm.reply("")
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    assert (await client.complete(MESSAGES, max_tokens=5)).text == ""
    assert (await client.complete(MESSAGES, max_tokens=5)).text == ""


async def test_a_429_becomes_an_llm_error_without_the_key_and_without_retrying(
    fake_llm: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    fake_llm.reply_status(429, f"rate limited for key {KEY}")
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    with caplog.at_level(logging.WARNING), pytest.raises(LLMError) as caught:
        await client.complete(MESSAGES, max_tokens=5)
    assert "429" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in caplog.text
    assert len(fake_llm.requests) == 1


async def test_a_500_becomes_an_llm_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.reply_status(500)
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    with pytest.raises(LLMError, match="provider"):
        await client.complete(MESSAGES, max_tokens=5)


async def test_a_body_that_is_not_json_becomes_an_llm_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.queue.append(Scripted(raw_body="<html>oops</html>"))
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    with pytest.raises(LLMError):
        await client.complete(MESSAGES, max_tokens=5)


async def test_a_reply_slower_than_the_timeout_becomes_an_llm_error_in_time(
    fake_llm: FakeLLMServer,
) -> None:
    fake_llm.reply_slow(3.0)
    client = LiteLLMClient(fake_llm.settings(timeout_s=0.5), api_key=KEY)
    began = time.monotonic()
    with pytest.raises(LLMError, match=r"did not answer within 0\.5 s"):
        await client.complete(MESSAGES, max_tokens=5)
    assert time.monotonic() - began < 2.5


async def test_an_unreachable_provider_becomes_an_llm_error(fake_llm: FakeLLMServer) -> None:
    settings = fake_llm.settings(api_base="http://127.0.0.1:9/v1", timeout_s=2.0)
    client = LiteLLMClient(settings, api_key=KEY)
    with pytest.raises(LLMError):
        await client.complete(MESSAGES, max_tokens=5)


async def test_no_configured_model_is_an_llm_error_before_any_request(
    fake_llm: FakeLLMServer,
) -> None:
    client = LiteLLMClient(fake_llm.settings(model=""), api_key=KEY)
    with pytest.raises(LLMError, match=r"llm\.model"):
        await client.complete(MESSAGES, max_tokens=5)
    assert fake_llm.requests == []


def test_the_client_never_shows_its_key() -> None:
    from core.config import LLMSettings

    client = LiteLLMClient(LLMSettings(model="openai/x"), api_key=KEY)
    assert KEY not in repr(client)


async def test_a_known_model_reply_is_priced_from_the_local_cost_map(fake_llm: FakeLLMServer) -> None:
    fake_llm.reply("priced", prompt_tokens=1000, completion_tokens=1000)
    client = LiteLLMClient(fake_llm.settings(model="openai/gpt-4o-mini"), api_key=KEY)
    reply = await client.complete(MESSAGES, max_tokens=5)
    assert 0.0 < reply.cost_usd < 0.01


@pytest.mark.parametrize(
    "body",
    ['{"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}',
     '{"weird": true}', "[]"],
)
async def test_a_reply_without_a_message_becomes_an_llm_error(
    fake_llm: FakeLLMServer, body: str
) -> None:
    fake_llm.queue.append(Scripted(raw_body=body))
    client = LiteLLMClient(fake_llm.settings(), api_key=KEY)
    with pytest.raises(LLMError):
        await client.complete(MESSAGES, max_tokens=5)


async def test_a_local_server_works_without_any_key(fake_llm: FakeLLMServer, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_llm.reply("fine")
    reply = await LiteLLMClient(fake_llm.settings(), api_key="").complete(MESSAGES, max_tokens=5)
    assert reply.text == "fine"
