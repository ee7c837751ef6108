"""The tighter allowance for misses: asking about ids that do not exist or are not the asker's."""

from __future__ import annotations

from datetime import timedelta

from core.delivery.ratelimit import UserRateLimiter
from core.ports import Clock

# A person who mistypes an id tries again once or twice; one who guesses ids is stopped at three.
MISSES_PER_HOUR = 3


class MissLimiter:
    """At most `limit` misses per person in a sliding `window`; past it every question waits.

    Every question waits, hit or miss, so that the refusal itself never tells an id that exists
    from one that does not. Misses are counted apart from questions: a miss alone spends it.
    """

    def __init__(self, clock: Clock, limit: int = MISSES_PER_HOUR,
                 window: timedelta = timedelta(hours=1)) -> None:
        self._clock = clock
        self._misses = UserRateLimiter(limit, window.total_seconds())

    def wait(self, user_key: str) -> float | None:
        """Seconds until this person may ask again, or None when their misses allow it now."""
        return self._misses.wait(user_key, self._clock.now().timestamp())

    def record(self, user_key: str) -> None:
        """One more miss by this person."""
        self._misses.record(user_key, self._clock.now().timestamp())
