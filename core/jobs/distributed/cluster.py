"""What /healthz shows in distributed mode: messages waiting per queue, workers seen lately."""

from __future__ import annotations

import asyncio
from typing import Any

from dramatiq.brokers.redis import RedisBroker

from core.jobs.distributed.dispatch import STAGES

SEEN_WINDOW_S = 60


async def cluster_view(broker: RedisBroker, store: Any) -> dict[str, Any]:
    """{"queues": {name: messages not yet acknowledged}, "workers": seen in the last minute}."""

    def depths() -> dict[str, int]:
        return {q: int(broker.client.hlen(f"{broker.namespace}:{q}.msgs")) for q in STAGES}

    queues = await asyncio.to_thread(depths)
    async with store.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) FROM castfive_workers WHERE seen_at > now() - make_interval(secs => %s)",
            (SEEN_WINDOW_S,))).fetchone()
    return {"queues": queues, "workers": int(row[0]) if row else 0}
