"""SIGKILL `python -m bot` in the middle of a delivery round, twice: nobody is missed or doubled.

Thirty Telegram chats are due at once; the fake Bot API answers each sendMessage after a short
delay, so the round takes seconds and each kill lands with messages in flight. A message the
platform delivered but whose answer the process never saw is "in doubt": it may be sent again,
at most once per chat per crash. Every other message is sent exactly once.
"""

from __future__ import annotations

from core.store.repos import MessageState
from tests.e2e.content import read_store, seed_store
from tests.e2e.process import wait_until

CHATS = list(range(5001, 5031))
PER_DIGEST = 5


async def test_a_kill_mid_round_and_a_restart_give_every_chat_its_one_digest(telegram, make_bot, tmp_path):
    telegram.send_delay_s = 0.03
    await seed_store(tmp_path / "data", CHATS)
    bot = make_bot({"telegram": {"api_base_url": telegram.base_url},
                    "delivery": {"telegram_messages_per_second": 60.0}})
    total = len(CHATS) * PER_DIGEST
    crashes = 0
    for kill_at in (40, 100):  # digest messages delivered when each SIGKILL lands
        await bot.start()
        await wait_until(lambda k=kill_at: len(telegram.digest_messages()) >= k, 60, f"{kill_at} sends", bot)
        await bot.kill()
        crashes += 1
        assert len(telegram.digest_messages()) < total, "the round finished before the kill: no test"

    await bot.start()
    await wait_until(lambda: _covered(telegram) == set(CHATS), 60, "every chat's five", bot)
    await bot.wait_log("delivery tick due=")
    code, _ = await bot.stop()
    assert code == 0

    subscribers, ledger, _, store = await read_store(tmp_path / "data")
    await store.close()
    assert len(ledger) == len(CHATS)  # one digest per chat: never chosen twice
    per_chat = telegram.per_chat()
    in_doubt = 0
    for entry in ledger:
        chat = int(entry.subscriber_id.split(":")[1])
        chosen = [m.insight_id for m in entry.messages]
        assert len(chosen) == PER_DIGEST and entry.finished
        assert all(m.state == MessageState.SENT for m in entry.messages)
        counts = per_chat[chat]
        assert set(counts) == set(chosen), f"chat {chat} got other insights than its digest"
        extra = sum(counts.values()) - PER_DIGEST
        assert extra <= crashes, f"chat {chat} got {extra} duplicates from {crashes} crashes"
        in_doubt += extra
    assert all(s.active and s.last_digest_date for s in subscribers)
    # the figure the report quotes: how many messages were resent after the two crashes
    print(f"\n{crashes} crashes, {in_doubt} message(s) in doubt resent, of {total}")


def _covered(telegram) -> set[int]:
    """Chats that received all five distinct insights of their digest."""
    return {chat for chat, counts in telegram.per_chat().items() if len(counts) >= PER_DIGEST}
