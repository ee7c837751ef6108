"""`python -m core.jobs.distributed.alive`: exit 0 when a worker on this host beat in the last minute.

The container health check of `castfive worker`: workers write a heartbeat row every 15 s.
"""

from __future__ import annotations

import os
import socket
import sys

import psycopg

from core.dsn import DATABASE_URL_ENV


def main() -> int:
    """0 when this host's worker is alive, 1 otherwise (the reason on stderr, no password)."""
    try:
        with psycopg.connect(os.environ[DATABASE_URL_ENV], connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT 1 FROM castfive_workers WHERE name LIKE %s"
                " AND seen_at > now() - interval '60 seconds'",
                (socket.gethostname().replace("%", "") + ":%",)).fetchone()
    except (KeyError, psycopg.Error) as exc:
        print(f"no database: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0 if row else 1


if __name__ == "__main__":
    raise SystemExit(main())
