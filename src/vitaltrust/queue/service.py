"""Running workers: inside `serve` (start_worker) or as `vitaltrust worker` (run_worker_process).

Implemented by the queue issue (#4).
"""

from __future__ import annotations

from typing import Protocol

from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.monitoring.stats import StatsRecorder


class WorkerHandle(Protocol):
    async def stop(self) -> None: ...


async def start_worker(url: str, pool: AsyncConnectionPool[Conn], settings: Settings,
                       stats: StatsRecorder) -> WorkerHandle:
    raise NotImplementedError("the job worker is not built yet (issue #4)")


async def run_worker_process(settings: Settings) -> None:
    raise NotImplementedError("the job worker is not built yet (issue #4)")
