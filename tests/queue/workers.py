"""Worker subprocesses for the multi-process tests and drills."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psycopg

from tests.queue.handlers import CALLS_TABLE
from tests.support.procs import spawn

REPO = Path(__file__).resolve().parents[2]
FAST = {
    "VITALTRUST_EXTRA_JOB_MODULES": "tests.queue.handlers",
    "PYTHONPATH": str(REPO),
    "VITALTRUST_JOB_LEASE_SECONDS": "5",
    "VITALTRUST_HEARTBEAT_SECONDS": "1",
    "VITALTRUST_SCHEDULER_INTERVAL_SECONDS": "1",
    "VITALTRUST_POLL_INTERVAL_SECONDS": "0.5",
    "VITALTRUST_SHUTDOWN_TIMEOUT_SECONDS": "5",
}


def start_workers(db_url: str, n: int, log_dir: Path, *, concurrency: int = 4,
                  **env: str) -> list[subprocess.Popen[bytes]]:
    return [spawn(db_url, "worker", "--concurrency", str(concurrency),
                  log_path=log_dir / f"worker-{i}.log", **{**FAST, **env}) for i in range(n)]


def scalar(db_url: str, query: str, params: tuple[object, ...] = ()) -> object:
    with psycopg.connect(db_url, autocommit=True) as c:
        row = c.execute(query, params).fetchone()
        return None if row is None else row[0]


def wait_until(db_url: str, query: str, predicate: object, within: float,
               params: tuple[object, ...] = ()) -> float:
    """Seconds until `query`'s scalar satisfies `predicate` (a callable or a value)."""
    t0 = time.monotonic()
    last: object = None
    while time.monotonic() - t0 < within:
        try:
            last = scalar(db_url, query, params)
        except psycopg.OperationalError:
            last = "database unreachable"
        ok = predicate(last) if callable(predicate) else last == predicate
        if ok:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"{query!r} still {last!r} after {within}s")


UNFINISHED = "SELECT count(*) FROM background_jobs WHERE status IN ('pending', 'processing')"
NOT_ONCE = ("SELECT count(*) FROM background_jobs j LEFT JOIN "
            "(SELECT job_id, count(*) AS n FROM test_job_calls GROUP BY job_id) c ON c.job_id = j.id "
            "WHERE j.status <> 'completed' OR c.n IS DISTINCT FROM 1")


def enqueue_bulk(db_url: str, n: int, payload: dict[str, object]) -> None:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(CALLS_TABLE)
        c.execute("INSERT INTO background_jobs (type, payload) "
                  "SELECT 'test_record', %s::jsonb FROM generate_series(1, %s)",
                  (json.dumps(payload), n))
        c.execute("NOTIFY vitaltrust_jobs")
