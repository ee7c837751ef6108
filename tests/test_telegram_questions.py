"""Follow-up questions: replies to insights and answers, the Ask button, /ask, thumbs, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.telegram_bot import TelegramAdapter
from core.models import Answer
from core.ports import MessageRef
from tests.fakes.fake_castfive_api import FakeCastfiveApi, make_item
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

USER = 4242
GROUP = -1001112223334


@pytest_asyncio.fixture
async def api() -> FakeCastfiveApi:
    fake = FakeCastfiveApi()
    await fake.subscribe("telegram", str(USER), "Ada")
    await fake.subscribe("telegram", str(GROUP), "Pod Club")
    return fake


@pytest_asyncio.fixture
async def adapter(fake_telegram: FakeTelegramApi, api: FakeCastfiveApi) -> AsyncIterator[TelegramAdapter]:
    bot = TelegramAdapter(api, TOKEN, base_url=fake_telegram.base_url, poll_timeout=1, clock=api.clock)
    await bot.start()
    yield bot
    await bot.stop()


async def deliver(adapter: TelegramAdapter, api: FakeCastfiveApi, chat_id: int, n: int = 0) -> int:
    """Send digest item `n` like the core does, and record its message id as the core would."""
    item = api.digest[n]
    outcome = await adapter.send_digest_item(api.subscribers[f"telegram:{chat_id}"], item)
    message_id = outcome.message_ids[0]
    await api.remember_message(f"telegram:{chat_id}", message_id,
                               MessageRef(item.insight.id, f"digest-{message_id}"))
    return int(message_id)


async def ask_by_reply(fake: FakeTelegramApi, chat_id: int, reply_to: int, text: str,
                       user_id: int = USER) -> tuple[dict, dict]:
    """Push a reply; returns (the question message, the bot's first sendMessage after it)."""
    mark = fake.mark()
    question = fake.push_message(chat_id, text, user_id=user_id, reply_to=reply_to)
    return question, (await fake.wait_for("sendMessage", after=mark)).params


async def test_a_reply_to_an_insight_is_answered_as_a_reply_citing_timestamps(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    insight_message = await deliver(adapter, api, USER)
    question, answer = await ask_by_reply(fake_telegram, USER, insight_message, "Where is that from?")
    item = api.digest[0]
    assert api.calls_to("ask")[-1] == {"insight_id": item.insight.id, "question": "Where is that from?",
                                       "user_key": f"telegram:{USER}",
                                       "conversation_id": f"digest-{insight_message}"}
    assert answer["reply_parameters"]["message_id"] == question["message_id"]
    assert answer["parse_mode"] == "HTML" and "<b>[01:12]</b>" in answer["text"]
    assert fake_telegram.calls("sendChatAction")[-1].params["action"] == "typing"


async def test_a_reply_to_an_answer_continues_the_same_conversation(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    insight_message = await deliver(adapter, api, USER)
    await ask_by_reply(fake_telegram, USER, insight_message, "Where is that from?")
    remembered = (await api.wait_for_calls("remember_message", 2))[-1]
    assert remembered["ref"] == MessageRef(api.digest[0].insight.id, f"digest-{insight_message}")
    await ask_by_reply(fake_telegram, USER, int(remembered["message_id"]), "And who said it?")
    follow_up = api.calls_to("ask")[-1]
    assert follow_up["question"] == "And who said it?"
    assert follow_up["conversation_id"] == f"digest-{insight_message}"


async def test_the_ask_button_prompts_with_force_reply_and_the_reply_is_the_question(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    insight_message = await deliver(adapter, api, GROUP)
    item = api.digest[0]
    mark = fake_telegram.mark()
    fake_telegram.push_callback(GROUP, insight_message, f"a:{item.insight.id}", user_id=77)
    prompt = await fake_telegram.wait_for("sendMessage", after=mark)
    assert prompt.params["reply_markup"] == {"force_reply": True, "selective": True,
                                             "input_field_placeholder": "Your question"}
    assert prompt.params["reply_parameters"]["message_id"] == insight_message
    assert 'href="tg://user?id=77"' in prompt.params["text"]  # selective: only the asker gets the field
    await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    remembered = (await api.wait_for_calls("remember_message", 2))[-1]
    prompt_id = int(remembered["message_id"])
    _, answer = await ask_by_reply(fake_telegram, GROUP, prompt_id, "What was the sample size?", 77)
    asked = api.calls_to("ask")[-1]
    assert asked["insight_id"] == item.insight.id and asked["question"] == "What was the sample size?"
    assert asked["conversation_id"] == remembered["ref"].conversation_id
    assert asked["user_key"] == "telegram:77" and "sample size" in answer["text"]


async def test_ask_with_id_and_question_answers_and_remembers_the_answer(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    item = api.digest[2]
    mark = fake_telegram.mark()
    command = fake_telegram.push_message(USER, f"/ask {item.insight.id} why cheaper?", user_id=USER)
    answer = await fake_telegram.wait_for("sendMessage", after=mark)
    asked = api.calls_to("ask")[-1]
    assert asked["insight_id"] == item.insight.id and asked["question"] == "why cheaper?"
    assert answer.params["reply_parameters"]["message_id"] == command["message_id"]
    remembered = (await api.wait_for_calls("remember_message"))[-1]
    assert remembered["ref"] == MessageRef(item.insight.id, asked["conversation_id"])


async def test_ask_with_only_an_id_prompts_for_the_question(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, f"/ask {api.digest[1].insight.id}", user_id=USER)
    prompt = await fake_telegram.wait_for("sendMessage", after=mark)
    assert prompt.params["reply_markup"]["force_reply"] is True
    assert "What would you like to know" in prompt.params["text"]


async def test_ask_alone_lists_recent_insight_ids(fake_telegram: FakeTelegramApi,
                                                 adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, "/ask", user_id=USER)
    reply = await fake_telegram.wait_for("sendMessage", after=mark)
    assert all(f"<code>{i.insight.id}</code>" in reply.params["text"] for i in api.digest)


async def test_ask_about_an_unknown_insight_says_so(fake_telegram: FakeTelegramApi,
                                                   adapter: TelegramAdapter) -> None:
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, "/ask zzzzzzz what?", user_id=USER)
    reply = await fake_telegram.wait_for("sendMessage", after=mark)
    assert reply.params["text"].startswith("No insight with id zzzzzzz")


@pytest.mark.parametrize("data, vote, toast", [("u", 1, "More like this"), ("d", -1, "fewer like this")])
async def test_thumbs_record_feedback_and_show_a_toast(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi,
        data: str, vote: int, toast: str) -> None:
    insight_message = await deliver(adapter, api, GROUP, 3)
    insight_id = api.digest[3].insight.id
    mark = fake_telegram.mark()
    query = fake_telegram.push_callback(GROUP, insight_message, f"{data}:{insight_id}", user_id=55)
    answered = await fake_telegram.wait_for("answerCallbackQuery", after=mark)
    assert api.calls_to("feedback") == [{"subscriber_id": f"telegram:{GROUP}",
                                         "insight_id": insight_id, "vote": vote}]
    assert answered.params["callback_query_id"] == query and toast in answered.params["text"]


async def test_html_in_an_answer_and_titles_is_escaped(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    item = api.add_item(make_item(6, show="<b>Tom & Jerry</b> Show", text="Fake </code> tag & more"))
    api.answer_text = "Use <script>alert(1)</script> & <i>never</i> trust 3 < 4."
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, f"/ask {item.insight.id} is <this> ok?", user_id=USER)
    answer = (await fake_telegram.wait_for("sendMessage", after=mark)).params
    assert answer["parse_mode"] == "HTML"
    assert "Use &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;i&gt;never&lt;/i&gt; trust 3 &lt; 4." \
        in answer["text"]
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; Show" in answer["text"]
    assert "<script>" not in answer["text"]


async def test_a_5000_character_answer_is_split_into_two_messages(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    api.answer_text = "\n".join(f"Line {n:03d}: " + "evidence " * 9 for n in range(60))
    assert len(api.answer_text) > 5000
    mark = fake_telegram.mark()
    question = fake_telegram.push_message(USER, f"/ask {api.digest[0].insight.id} all of it?",
                                          user_id=USER)
    await fake_telegram.wait_for("sendMessage", lambda p: "Sources" in p["text"], after=mark)
    parts = [r.params for r in fake_telegram.requests[mark:] if r.method == "sendMessage"]
    assert len(parts) == 2 and all(len(p["text"]) < 4096 for p in parts)
    assert parts[0]["text"].splitlines()[1].startswith("Line 000") and "Line 059" in parts[1]["text"]
    assert parts[0]["reply_parameters"]["message_id"] == question["message_id"]
    assert "reply_parameters" not in parts[1]
    assert len(await api.wait_for_calls("remember_message", 2)) == 2  # a reply to either continues


async def test_a_rate_limited_question_says_when_to_ask_again(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    api.questions_per_hour = 1
    insight_id = api.digest[0].insight.id
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, f"/ask {insight_id} first?", user_id=USER)
    await fake_telegram.wait_for("sendMessage", after=mark)
    api.clock.advance(minutes=48)  # type: ignore[attr-defined]
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, f"/ask {insight_id} second?", user_id=USER)
    reply = await fake_telegram.wait_for("sendMessage", after=mark)
    assert reply.params["text"] == ("You have asked a lot of questions lately. "
                                    "You can ask again in 12 minutes.")


async def test_a_reply_to_someone_else_in_a_group_is_ignored(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi) -> None:
    chatter = fake_telegram.push_message(GROUP, "great episode", user_id=61)
    fake_telegram.push_message(GROUP, "agreed!", user_id=62, reply_to=chatter["message_id"])
    mark = fake_telegram.mark()
    fake_telegram.push_message(GROUP, "/help", user_id=62)
    await fake_telegram.wait_for("sendMessage", after=mark)
    assert not api.calls_to("lookup_message") and len(fake_telegram.calls("sendMessage")) == 1


async def test_an_unexpected_failure_is_logged_and_answered_politely(
        fake_telegram: FakeTelegramApi, adapter: TelegramAdapter, api: FakeCastfiveApi,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object, **kwargs: object) -> Answer:
        raise RuntimeError("index exploded")
    api.ask = broken  # type: ignore[method-assign]
    mark = fake_telegram.mark()
    fake_telegram.push_message(USER, f"/ask {api.digest[0].insight.id} boom?", user_id=USER)
    reply = await fake_telegram.wait_for("sendMessage", after=mark)
    assert reply.params["text"].startswith("Sorry, something went wrong")
    failure = next(r for r in caplog.records if r.levelname == "ERROR")
    assert f"chat {USER}" in failure.getMessage() and "index exploded" in str(failure.exc_info[1])
    assert TOKEN not in caplog.text

