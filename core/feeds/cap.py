"""The per-feed item cap: only the newest items of a huge feed are read any further."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import chain
from typing import TypeVar

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 2000


def keep_newest(items: Iterable[T], cap: int, date_of: Callable[[T], datetime | None],
                dropped: Callable[[T], None] | None = None) -> list[T]:
    """The `cap` newest items, in their original order; undated items count as the oldest, and
    among equals the earlier one in the document stays. `dropped` is told of each item let go
    as soon as it is (so a streaming reader can free it)."""
    first: list[T] = []
    stream = iter(items)
    for item in stream:  # dates are only read once there are more items than the cap
        first.append(item)
        if len(first) > cap:
            break
    else:
        return first
    heap: list[tuple[float, int, T]] = []
    for position, item in enumerate(chain(first, stream)):
        when = date_of(item)
        # Smallest first: the oldest, and among equal dates the latest in the document.
        entry = (when.timestamp() if when else float("-inf"), -position, item)
        if len(heap) < cap:
            heapq.heappush(heap, entry)
            continue
        if cap <= 0 or entry[:2] <= heap[0][:2]:
            loser = item
        else:
            loser = heapq.heapreplace(heap, entry)[2]
        if dropped is not None:
            dropped(loser)
    return [item for _, _, item in sorted(heap, key=lambda e: -e[1])]
