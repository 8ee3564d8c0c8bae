"""`vitaltrust bench jobs`: how fast the jobs console lists failed jobs when there are many.

A throw-away database (or --database-url) gets `--failed` failed jobs among `--completed`
completed ones, spread over 30 days with a few error texts; then the queries behind
GET /api/admin/jobs (the page, the status counts and the type list) are timed for the first
page, a deep page (keyset cursor half-way), a type filter and an error-text search.
Target: median < 300 ms for each. JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import typer

from vitaltrust.bench._confidence_data import bench_database
from vitaltrust.bench.dashboard import summarize
from vitaltrust.db import Conn, connect, redact, resolve_database_url
from vitaltrust.monitoring import joblist

TARGET_MS = 300.0
SEED = """
INSERT INTO background_jobs (type, payload, status, attempts, max_attempts, last_error,
                             locked_by, created_at, run_at, started_at, completed_at, failed_at)
SELECT (ARRAY['webhook_processing', 'confidence_calculation', 'ingest_batch'])[1 + g %% 3],
       jsonb_build_object('webhook_event_id', g),
       CASE WHEN g %% %(every)s = 0 THEN 'failed' ELSE 'completed' END,
       5, 5,
       CASE WHEN g %% %(every)s = 0 THEN
           (ARRAY['ValueError: no account for provider user u' || (g %% 97),
                  'TimeoutError: handler exceeded its 300 s timeout',
                  'LockNotAvailable: could not obtain lock on row in relation "metric_samples"'])
           [1 + (g / %(every)s) %% 3] END,
       'bench:host:1', t, t, t + interval '20 ms',
       CASE WHEN g %% %(every)s <> 0 THEN t + interval '40 ms' END,
       CASE WHEN g %% %(every)s = 0 THEN t + interval '40 ms' END
FROM generate_series(1, %(total)s) AS g,
     LATERAL (SELECT now() - interval '30 days' * (1 - g::float8 / %(total)s)) AS ts(t)
"""
MIDDLE_ID = """
SELECT id FROM background_jobs WHERE status = 'failed' ORDER BY id OFFSET %(n)s LIMIT 1
"""


async def _time(conn: Conn, f: joblist.JobFilter, after: int | None, runs: int,
                warmup: int) -> dict[str, Any]:
    times: list[float] = []
    rows = 0
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        page = await joblist.list_jobs(conn, f, after=after, limit=50)
        await joblist.job_types(conn)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
        rows = len(page["rows"])
    return {**summarize(times, TARGET_MS), "rows": rows}


async def bench(server_url: str, given_url: str | None, *, failed: int, completed: int,
                runs: int, warmup: int, keep: bool) -> dict[str, Any]:
    async with bench_database(server_url, given_url, keep) as url:
        conn = await connect(url)
        try:
            total = failed + completed
            every = max(1, total // max(1, failed))
            t0 = time.perf_counter()
            await conn.execute(SEED, {"total": total, "every": every})
            # what autovacuum does on a live install: statistics and the visibility map
            await conn.execute("VACUUM ANALYZE background_jobs")
            seeded_s = time.perf_counter() - t0
            count = await (await conn.execute(
                "SELECT count(*) AS n FROM background_jobs WHERE status = 'failed'")).fetchone()
            assert count is not None
            mid = await (await conn.execute(MIDDLE_ID, {"n": int(count["n"]) // 2})).fetchone()
            cases: dict[str, tuple[joblist.JobFilter, int | None]] = {
                "failed, first page": (joblist.JobFilter(status="failed"), None),
                "failed, deep page (keyset, half-way)": (
                    joblist.JobFilter(status="failed"), int(mid["id"]) if mid else None),
                "failed, one type": (
                    joblist.JobFilter(status="failed", type="confidence_calculation"), None),
                "failed, error text": (
                    joblist.JobFilter(status="failed", error="provider user u42"), None),
                "all statuses, first page": (joblist.JobFilter(), None),
            }
            results = {name: await _time(conn, f, after, runs, warmup)
                       for name, (f, after) in cases.items()}
        finally:
            await conn.close()
    return {"scenario": "jobs", "database": redact(url), "failed_jobs": int(count["n"]),
            "all_jobs": total, "seed_seconds": round(seeded_s, 1), "runs": runs,
            "all_ok": all(r["ok"] for r in results.values()), "results": results}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("jobs")
    def jobs_command(
        failed: Annotated[int, typer.Option(help="Failed jobs to create.", min=1)] = 100_000,
        completed: Annotated[int, typer.Option(help="Completed jobs beside them.", min=0)
                             ] = 400_000,
        runs: Annotated[int, typer.Option(help="Timed runs per case.", min=1)] = 30,
        warmup: Annotated[int, typer.Option(help="Untimed runs first.", min=0)] = 3,
        database_url: Annotated[str | None, typer.Option(
            help="Use this (migrated) database instead of a throw-away one.")] = None,
        keep: Annotated[bool, typer.Option(help="Keep the throw-away database.")] = False,
    ) -> None:
        """Time the failed-jobs list of the console on many failed jobs (JSON)."""
        from vitaltrust.cli import friendly_errors, settings

        result = friendly_errors(lambda: asyncio.run(bench(
            resolve_database_url(settings()), database_url, failed=failed, completed=completed,
            runs=runs, warmup=warmup, keep=keep)))()
        typer.echo(json.dumps(result, indent=2))
