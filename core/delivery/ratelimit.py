"""A token bucket shared by every send to one platform: the operator's global send rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """At most `rate` acquisitions per second on average, with bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._now = now
        self._sleep = sleep
        self._last = now()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until a send is allowed."""
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                current = self._now()
                self._tokens = min(self.capacity, self._tokens + (current - self._last) * self.rate)
                self._last = current
                if self._tokens >= 1 - 1e-9:  # tolerance: float refills may stop a hair short of 1
                    self._tokens -= 1
                    return
                await self._sleep(max((1 - self._tokens) / self.rate, 1e-3))

    def pause(self, seconds: float) -> None:
        """Spend future tokens: the platform told us to back off for `seconds`."""
        # min, not a sum: k senders told to wait by one 429 must hold the platform once, not k times
        self._tokens = min(self._tokens, -seconds * self.rate)


class UserRateLimiter:
    """At most `limit` events per user in a sliding `window` seconds (questions cost LLM money)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, list[float]] = {}

    def check(self, user_key: str, now: float) -> float | None:
        """Record an event and return None, or return seconds until the user may try again."""
        wait = self.wait(user_key, now)
        if wait is None:
            self.record(user_key, now)
        return wait

    def wait(self, user_key: str, now: float) -> float | None:
        """Seconds until the user's next event is allowed, or None when it is allowed now."""
        events = self._recent(user_key, now)
        return events[0] + self.window - now if len(events) >= self.limit else None

    def record(self, user_key: str, now: float) -> None:
        """One more event by the user."""
        self._events[user_key] = [*self._recent(user_key, now), now]

    def _recent(self, user_key: str, now: float) -> list[float]:
        """The user's events inside the window; a user with none is forgotten."""
        events = [t for t in self._events.pop(user_key, ()) if now - t < self.window]
        if events:
            self._events[user_key] = events
        return events
