"""The tighter allowance for misses: asking about ids that do not exist or are not the asker's."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.ports import Clock

# A person who mistypes an id tries again once or twice; one who guesses ids is stopped at three.
MISSES_PER_HOUR = 3


class MissLimiter:
    """At most `limit` misses per person in a sliding `window`; past it every question waits.

    Every question waits, hit or miss, so that the refusal itself never tells an id that exists
    from one that does not.
    """

    def __init__(self, clock: Clock, limit: int = MISSES_PER_HOUR,
                 window: timedelta = timedelta(hours=1)) -> None:
        self._clock = clock
        self.limit = limit
        self.window = window
        self._misses: dict[str, list[datetime]] = {}

    def wait(self, user_key: str) -> float | None:
        """Seconds until this person may ask again, or None when their misses allow it now."""
        recent = self._recent(user_key)
        if len(recent) < self.limit:
            return None
        return (recent[0] + self.window - self._clock.now()).total_seconds()

    def record(self, user_key: str) -> None:
        """One more miss by this person."""
        self._misses[user_key] = [*self._recent(user_key), self._clock.now()]

    def _recent(self, user_key: str) -> list[datetime]:
        now = self._clock.now()
        recent = [t for t in self._misses.pop(user_key, ()) if now - t < self.window]
        if recent:
            self._misses[user_key] = recent
        return recent
