"""The queue's own job types."""

from __future__ import annotations

from vitaltrust.db import Conn
from vitaltrust.queue.registry import Job, job_handler

NOOP = "noop"


@job_handler(NOOP)
async def noop(conn: Conn, job: Job) -> None:
    """Does nothing: benchmarks measure the queue itself with it."""
