"""A pgqueuer consumer with a no-op entrypoint, for `vitaltrust bench queue --compare-pgqueuer`.

Run as `python -m vitaltrust.bench._pgqueuer_consumer URL BATCH_SIZE MAX_TASKS DRIVER`
(DRIVER: asyncpg, pgqueuer's usual driver, or psycopg); stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import psycopg


async def consume(url: str, batch_size: int, max_tasks: int, driver: str) -> None:
    from pgqueuer import AsyncpgDriver, PsycopgDriver, Queries, QueueManager

    if driver == "asyncpg":
        import asyncpg
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)  # asyncpg takes no libpq keyword string
        aconn = await asyncpg.connect(
            host=info.get("host"), port=int(info.get("port") or 5432), user=info.get("user"),
            password=info.get("password"), database=info.get("dbname"))
        qm = QueueManager(Queries(AsyncpgDriver(aconn)))
        close = aconn.close
    else:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        qm = QueueManager(Queries(PsycopgDriver(conn)))
        close = conn.close

    @qm.entrypoint("noop")
    async def noop(job: Any) -> None:
        return None

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, qm.shutdown.set)
    try:
        await qm.run(batch_size=batch_size, max_concurrent_tasks=max_tasks)
    finally:
        await close()


if __name__ == "__main__":
    asyncio.run(consume(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
