"""`/today` in a shared chat: posted once per chat per hour; later calls point at that post."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import CastfiveError
from core.ports import Clock

TODAY_EVERY = timedelta(hours=1)  # five posts a member can summon: a group gets them once an hour


class PostedRecentlyError(CastfiveError):
    """Today's five were posted in this chat within the hour: point at them instead."""

    def __init__(self, posted_at: datetime, retry_at: datetime, message_id: str | None) -> None:
        super().__init__("Today's five were posted here a moment ago: scroll up to them.")
        self.posted_at = posted_at
        self.retry_at = retry_at
        self.message_id = message_id  # the first message of that post; None while it is being sent


@dataclass(frozen=True)
class _Post:
    posted_at: datetime
    message_id: str | None = None


class ChatCooldown:
    """One claim per chat per `window`; a claim remembers the first message it posted."""

    def __init__(self, clock: Clock, window: timedelta = TODAY_EVERY) -> None:
        self._clock = clock
        self.window = window
        self._posts: dict[str, _Post] = {}

    def claim(self, chat_key: str) -> None:
        """Take this hour's turn for the chat, or raise PostedRecentlyError pointing at the last post.

        Synchronous, so two commands that arrive together cannot both take the turn.
        """
        now = self._clock.now()
        post = self._posts.get(chat_key)
        if post is not None and now - post.posted_at < self.window:
            raise PostedRecentlyError(post.posted_at, post.posted_at + self.window, post.message_id)
        self._forget_expired(now)
        self._posts[chat_key] = _Post(now)

    @contextmanager
    def turn(self, chat_key: str, *, shared: bool) -> Iterator[Turn]:
        """Claim the chat's turn for a shared chat (a no-op elsewhere); given back on failure."""
        if shared:
            self.claim(chat_key)
        taken = Turn(self, chat_key if shared else None)
        try:
            yield taken
        except BaseException:
            taken.give_back()
            raise

    def note_post(self, chat_key: str, message_id: str) -> None:
        """The message the claimed post begins with (later calls are pointed at it)."""
        post = self._posts.get(chat_key)
        if post is not None and post.message_id is None:
            self._posts[chat_key] = _Post(post.posted_at, message_id)

    def release(self, chat_key: str) -> None:
        """Give back a claim whose post never reached the chat (no first message noted)."""
        post = self._posts.get(chat_key)
        if post is not None and post.message_id is None:
            del self._posts[chat_key]

    def _forget_expired(self, now: datetime) -> None:
        # bounded by the chats that used /today within the hour
        for key in [k for k, p in self._posts.items() if now - p.posted_at >= self.window]:
            del self._posts[key]


class Turn:
    """A claimed turn; `give_back` when nothing was posted after all (nothing to point at)."""

    def __init__(self, cooldown: ChatCooldown, chat_key: str | None) -> None:
        self._cooldown = cooldown
        self._chat_key = chat_key

    def give_back(self) -> None:
        """Let the chat's next call post instead of pointing at nothing."""
        if self._chat_key is not None:
            self._cooldown.release(self._chat_key)
            self._chat_key = None
