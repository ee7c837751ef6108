"""Subscriber lifecycle shared by the service API and delivery: gone, migrated, reactivated."""

from __future__ import annotations

import dataclasses
import logging

from core.errors import NotFoundError
from core.models import Subscriber
from core.ports import Change
from core.store.repos import Repos
from core.subscriber_locks import KeyedLocks

log = logging.getLogger(__name__)


def subscriber_id_for(platform: str, chat_id: str) -> str:
    """The id of the subscriber for a chat."""
    return f"{platform}:{chat_id}"


async def require_subscriber(repos: Repos, subscriber_id: str) -> Subscriber:
    """The subscriber, or a NotFoundError telling the user to /start first."""
    subscriber = await repos.subscribers.get(subscriber_id)
    if subscriber is None:
        raise NotFoundError("This chat is not subscribed yet: use /start (or /castfive subscribe) first.")
    return subscriber


async def record_gone(
    repos: Repos, locks: KeyedLocks, subscriber: Subscriber, reason: str, threshold: int
) -> Subscriber:
    """Count one 'recipient gone' outcome on the stored subscriber; deactivate after `threshold` in a row."""
    async with locks.hold(subscriber.id):  # re-read: a follow may have landed during the send
        current = await repos.subscribers.get(subscriber.id)
        if current is None:  # removed meanwhile: nothing left to deliver to
            return dataclasses.replace(subscriber, active=False)
        count = current.consecutive_gone + 1
        updated = dataclasses.replace(current, consecutive_gone=count,
                                      active=current.active and count < threshold)
        await repos.subscribers.put(updated)
    if current.active and not updated.active:
        log.warning("subscriber deactivated subscriber=%s reason=%s", subscriber.id, reason)
    return updated


async def record_reachable(repos: Repos, locks: KeyedLocks, subscriber: Subscriber) -> Subscriber:
    """A successful send resets the 'gone' streak of the stored subscriber."""
    if subscriber.consecutive_gone == 0:
        return subscriber  # the streak only grows under this same delivery: nothing to reset
    async with locks.hold(subscriber.id):
        current = await repos.subscribers.get(subscriber.id)
        if current is None or current.consecutive_gone == 0:
            return current or subscriber
        updated = dataclasses.replace(current, consecutive_gone=0)
        await repos.subscribers.put(updated)
    return updated


async def deactivate(repos: Repos, subscriber_id: str, reason: str) -> None:
    """The chat removed or blocked us: stop delivering at once."""
    subscriber = await repos.subscribers.get(subscriber_id)
    if subscriber is None or not subscriber.active:
        return
    await repos.subscribers.put(dataclasses.replace(subscriber, active=False))
    log.info("subscriber deactivated subscriber=%s reason=%s", subscriber_id, reason)


async def migrate(repos: Repos, subscriber: Subscriber, new_chat_id: str) -> Subscriber:
    """Move a subscriber to a new chat id (Telegram group -> supergroup), keeping its history."""
    new_id = subscriber_id_for(subscriber.platform, new_chat_id)
    if new_id == subscriber.id:
        return subscriber
    moved = dataclasses.replace(subscriber, id=new_id, chat_id=new_chat_id, consecutive_gone=0)
    changes = [repos.subscribers.change(moved), Change("subscribers", subscriber.id, None)]
    for entry in await repos.ledger.all():
        if entry.subscriber_id == subscriber.id:
            changes.append(repos.ledger.change(dataclasses.replace(entry, subscriber_id=new_id)))
            changes.append(Change("ledger", entry.key, None))
    await repos.store.apply(changes)
    log.info("subscriber migrated from=%s to=%s", subscriber.id, new_id)
    return moved
