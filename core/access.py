"""Who may read an insight: the one rule every ask, show, vote and conversation goes through."""

from __future__ import annotations

from enum import Enum

from core.digests import SentHistory
from core.models import Feed, FeedStatus, Insight, Subscriber


class Operator(Enum):
    """The operator at the command line, who reads every insight in their own store."""

    CLI = "cli"


OPERATOR = Operator.CLI
# Who asks for an insight: a chat's subscriber id, or the operator. The service has no default,
# so forgetting to say who reads cannot skip the access check.
Reader = str | Operator


def may_read(reader: Subscriber | None, insight: Insight, feed: Feed | None,
             history: SentHistory) -> bool:
    """Whether the chat `reader` may see `insight`.

    Yes when it was delivered to that chat, when it comes from the operator's public catalogue
    (offered to everyone, so readable by any chat), or when the chat follows its feed and the feed
    is public; a private (tokened) feed's insights are for the chats they were delivered to.
    Everything else must look exactly like an unknown id.
    """
    if feed is None:
        return False
    if feed.origin == "operator" and not feed.private:
        return True
    if reader is None:
        return False
    if insight.id in history.sent_ids(reader.id):
        return True
    follows = reader.feed_ids is not None and feed.id in reader.feed_ids
    return follows and not feed.private


def may_search_transcript(reader: Subscriber, feed: Feed | None) -> bool:
    """Whether the chat `reader` may search `feed`'s transcripts: a public feed it follows (the
    operator's live catalogue when it chose no feeds of its own). A private feed's transcript is
    never searched: its episodes are the token holder's."""
    if feed is None or feed.private:
        return False
    if reader.feed_ids is None:
        return feed.origin == "operator" and feed.status != FeedStatus.GONE
    return feed.id in reader.feed_ids
