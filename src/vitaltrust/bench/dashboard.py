"""`vitaltrust bench dashboard`: how fast the dashboard function, the views and /metrics
answer (run after `bench seed`). Prints medians and p95 in ms against the targets:
get_monitoring_dashboard_data() median < 50 ms, each view < 100 ms.

Every query is timed twice: with a fresh confidence snapshot (refreshed once, as the
scheduler leader does every minute) and with a stale one (older than its 3 minutes, so
the figures are aggregated live, as when no leader runs). `--pending N` (default 100,000)
adds N pending jobs for the time of the bench, a realistic backlog; they are removed after.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Annotated, Any

import typer

from vitaltrust.config import get_settings
from vitaltrust.db import Conn, connect, redact, resolve_database_url
from vitaltrust.monitoring.prometheus import collect_families, render

FIRST_TRAINER = "SELECT min(user_id) AS id FROM users WHERE role = 'trainer'"
# What the scheduler leader does every minute; the timed queries read this snapshot.
REFRESH_SNAPSHOT = "SELECT refresh_confidence_daily_stats()"
AGE_SNAPSHOT = "UPDATE confidence_daily_stats SET refreshed_at = now() - interval '1 hour'"
BACKLOG_TYPE = "bench_dashboard_backlog"
ADD_BACKLOG = """
INSERT INTO background_jobs (type, payload, run_at)
SELECT %(type)s, jsonb_build_object('i', g), now() - (g %% 600) * interval '1 second'
FROM generate_series(1, %(n)s) AS g
"""
DROP_BACKLOG = "DELETE FROM background_jobs WHERE type = %(type)s AND status = 'pending'"

# name -> (SQL, target median in ms)
QUERIES: dict[str, tuple[str, float]] = {
    "get_monitoring_dashboard_data()": ("SELECT get_monitoring_dashboard_data()", 50),
    "get_monitoring_dashboard_data(trainer)": (
        "SELECT get_monitoring_dashboard_data(%(trainer)s)", 50),
    "edge_function_performance": ("SELECT * FROM edge_function_performance", 100),
    "job_processing_stats": ("SELECT * FROM job_processing_stats", 100),
    "data_quality_trends": ("SELECT * FROM data_quality_trends", 100),
    "webhook_processing_stats": ("SELECT * FROM webhook_processing_stats", 100),
    "trainer_data_quality_trends(trainer)": (
        "SELECT * FROM trainer_data_quality_trends(%(trainer)s)", 100),
    # without a fresh snapshot (no scheduler leader) the cache is aggregated live
    "confidence_live_stats (fallback, no target)": ("SELECT * FROM confidence_live_stats", 0),
}


def summarize(times_ms: list[float], target_ms: float | None) -> dict[str, Any]:
    ordered = sorted(times_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    out: dict[str, Any] = {"median_ms": round(median, 2), "p95_ms": round(p95, 2),
                           "min_ms": round(ordered[0], 2), "max_ms": round(ordered[-1], 2)}
    if target_ms is not None:
        out.update(target_median_ms=target_ms, ok=median < target_ms)
    return out


async def _time(conn: Conn, query: str, params: dict[str, Any], runs: int) -> tuple[list[float], int]:
    times: list[float] = []
    rows = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = len(await (await conn.execute(query, params)).fetchall())
        times.append((time.perf_counter() - t0) * 1000)
    return times, rows


async def run_bench(runs: int, warmup: int, pending: int) -> dict[str, Any]:
    url = resolve_database_url(get_settings(), keep_running=True)
    conn = await connect(url)
    try:
        if pending:
            await conn.execute(ADD_BACKLOG, {"type": BACKLOG_TYPE, "n": pending})
            await conn.execute("ANALYZE background_jobs")
        row = await (await conn.execute(FIRST_TRAINER)).fetchone()
        params = {"trainer": row["id"] if row else None}
        results: dict[str, Any] = {}
        for snapshot in ("fresh", "stale"):
            await conn.execute(REFRESH_SNAPSHOT)
            if snapshot == "stale":
                await conn.execute(AGE_SNAPSHOT)
            for name, (query, target) in QUERIES.items():
                await _time(conn, query, params, warmup)
                times, rows = await _time(conn, query, params, runs)
                results[f"{name} [{snapshot} snapshot]"] = {
                    **summarize(times, target or None), "rows": rows}
        await conn.execute(REFRESH_SNAPSHOT)
        scrape: list[float] = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            render(await collect_families(conn))
            if i >= warmup:
                scrape.append((time.perf_counter() - t0) * 1000)
        results["/metrics (uncached collection)"] = summarize(scrape, None)
    finally:
        if pending:
            await conn.execute(DROP_BACKLOG, {"type": BACKLOG_TYPE})
        await conn.close()
    return {"scenario": "dashboard", "database": redact(url), "runs": runs,
            "pending_backlog": pending,
            "all_ok": all(r.get("ok", True) for r in results.values()), "results": results}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("dashboard")
    def dashboard_command(
        runs: Annotated[int, typer.Option(help="Timed runs per query.", min=1)] = 50,
        warmup: Annotated[int, typer.Option(help="Untimed runs first.", min=0)] = 3,
        pending: Annotated[int, typer.Option(
            help="Pending jobs added for the bench (removed after).", min=0)] = 100_000,
    ) -> None:
        """Time get_monitoring_dashboard_data(), the four views and /metrics (JSON)."""
        from vitaltrust.cli import friendly_errors

        result = friendly_errors(lambda: asyncio.run(run_bench(runs, warmup, pending)))()
        typer.echo(json.dumps(result, indent=2))
