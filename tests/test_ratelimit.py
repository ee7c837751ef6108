"""The platform send-rate bucket and the per-user question limiter."""

from __future__ import annotations

from core.delivery.ratelimit import TokenBucket, UserRateLimiter


def fake_time():
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    return now, sleep


async def test_the_bucket_allows_its_rate_on_average_after_the_burst():
    now, sleep = fake_time()
    bucket = TokenBucket(30, burst=1, now=lambda: now[0], sleep=sleep)
    for _ in range(301):
        await bucket.acquire()
    assert 9.9 <= now[0] <= 10.1  # 300 sends past the first at 30 per second


async def test_a_pause_holds_every_sender_for_the_time_asked():
    now, sleep = fake_time()
    bucket = TokenBucket(10, burst=1, now=lambda: now[0], sleep=sleep)
    await bucket.acquire()
    bucket.pause(5)
    await bucket.acquire()
    assert now[0] >= 5


def test_the_question_limiter_counts_per_user_in_a_sliding_window():
    limiter = UserRateLimiter(limit=2, window=3600)
    assert limiter.check("a", 0) is None
    assert limiter.check("a", 10) is None
    assert limiter.check("a", 20) == 3580
    assert limiter.check("b", 20) is None
    assert limiter.check("a", 3601) is None  # the first question has left the window
