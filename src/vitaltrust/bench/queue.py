"""`vitaltrust bench queue`: bulk-enqueue K no-op jobs, drain them with W worker processes.

Runs in a throw-away database on the configured server (created and dropped here).
With --compare-pgqueuer, each run also drains the same number of no-op jobs with W
pgqueuer consumer processes on the same server, once on asyncpg (pgqueuer's usual driver)
and once on psycopg, at the same batch size, and with as many jobs in flight per process
(max_concurrent_tasks = slots * batch size); the report gives both ratios. --workers-scaling
also drains with 1 worker in every run and reports W workers against 1.
Workers are started and idle before the clock starts: we time the queue, not Python's
start-up. `latency_ms` (enqueue to start) is for the bulk backlog, so it mostly measures
the wait in line; `idle_latency_ms` is for single jobs enqueued one by one to idle workers
(NOTIFY wake-up). Figures are medians over --runs runs; every run is listed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from typing import Annotated, Any

import psycopg
import typer
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vitaltrust.db import Conn, connect, resolve_database_url
from vitaltrust.migrations import migrate
from vitaltrust.queue.enqueue import NewJob, enqueue, enqueue_many

RESET = ("TRUNCATE background_jobs, job_attempts, job_stats_minute, function_stats_minute, "
         "edge_function_logs, workers")
UNFINISHED = "SELECT count(*) AS n FROM background_jobs WHERE status IN ('pending', 'processing')"
WORKERS_UP = "SELECT count(*) AS n FROM workers"
LATENCY = """
SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM started_at - created_at) * 1000) AS pct
FROM background_jobs WHERE id <= %s
"""
IDLE_LATENCY = """
SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM started_at - created_at) * 1000) AS pct
FROM background_jobs WHERE id > %s
"""
PACED_JOBS = 200
PACE_SECONDS = 0.005
PGQ_LEFT = "SELECT count(*) AS n FROM pgqueuer"
PGQ_RESET = "TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics"
POLL_SECONDS = 0.02


def _with_db(url: str, dbname: str) -> str:
    info = conninfo_to_dict(url)
    info["dbname"] = dbname
    return make_conninfo("", **info)


def _spawn(args: list[str], url: str, **env: str) -> subprocess.Popen[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    full_env.update(DATABASE_URL=url, VITALTRUST_LOG_LEVEL="WARNING", **env)
    return subprocess.Popen([sys.executable, *args], env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


async def _wait_until(conn: Conn, query: str, done: Any, limit_s: float) -> float:
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        row = await (await conn.execute(query)).fetchone()
        if row is not None and done(row["n"]):
            return time.perf_counter()
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"not done within {limit_s:g} s: {query}")


async def run_vitaltrust(url: str, jobs: int, workers: int, concurrency: int,
                         batch_size: int) -> dict[str, Any]:
    conn = await connect(url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await conn.execute(RESET)
        procs = [_spawn(["-m", "vitaltrust", "worker", "--concurrency", str(concurrency)], url,
                        VITALTRUST_WORKER_BATCH_SIZE=str(batch_size)) for _ in range(workers)]
        await _wait_until(conn, WORKERS_UP, lambda n: n >= workers, 60)
        t0 = time.perf_counter()
        async with conn.transaction():
            await enqueue_many(conn, [NewJob("noop", {})] * jobs)
        t1 = time.perf_counter()
        t2 = await _wait_until(conn, UNFINISHED, lambda n: n == 0, 600)
        last = (await (await conn.execute("SELECT max(id) AS n FROM background_jobs")).fetchone()
                or {"n": 0})["n"]
        row = await (await conn.execute(LATENCY, (last,))).fetchone()
        assert row is not None
        # responsiveness of idle workers: single jobs, one transaction (and NOTIFY) each
        for _ in range(PACED_JOBS):
            await enqueue(conn, "noop", {})
            await asyncio.sleep(PACE_SECONDS)
        await _wait_until(conn, UNFINISHED, lambda n: n == 0, 60)
        idle = await (await conn.execute(IDLE_LATENCY, (last,))).fetchone()
        assert idle is not None
        return {"enqueue_seconds": round(t1 - t0, 3), "enqueue_per_s": round(jobs / (t1 - t0)),
                "drain_seconds": round(t2 - t1, 3), "processed_per_s": round(jobs / (t2 - t1)),
                "completed": row["completed"], "latency_ms": _pct(row["pct"]),
                "idle_latency_ms": _pct(idle["pct"])}
    finally:
        _stop(procs)
        await conn.close()


async def run_pgqueuer(url: str, jobs: int, workers: int, batch_size: int, max_tasks: int,
                       driver: str) -> dict[str, Any]:
    from pgqueuer import PsycopgDriver, Queries

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    dconn = await connect(url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        queries = Queries(PsycopgDriver(conn))
        if not await queries.has_table("pgqueuer"):
            await queries.install()
        await dconn.execute(PGQ_RESET)
        procs = [_spawn(["-m", "vitaltrust.bench._pgqueuer_consumer", url, str(batch_size),
                         str(max_tasks), driver], url) for _ in range(workers)]
        await asyncio.sleep(3)  # pgqueuer has no readiness signal: give consumers time to start
        t0 = time.perf_counter()
        await queries.enqueue(["noop"] * jobs, [None] * jobs, [0] * jobs)
        t1 = time.perf_counter()
        t2 = await _wait_until(dconn, PGQ_LEFT, lambda n: n == 0, 600)
        return {"enqueue_seconds": round(t1 - t0, 3), "enqueue_per_s": round(jobs / (t1 - t0)),
                "drain_seconds": round(t2 - t1, 3), "processed_per_s": round(jobs / (t2 - t1))}
    finally:
        _stop(procs)
        await conn.close()
        await dconn.close()


def _pct(values: list[float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in zip(("p50", "p95", "p99"), values, strict=True)}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


DRIVERS = ("asyncpg", "psycopg")


async def bench(server_url: str, *, jobs: int, workers: int, concurrency: int, batch_size: int,
                runs: int, compare: bool, scaling: bool = False) -> dict[str, Any]:
    name = f"vt_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    url = _with_db(server_url, name)
    try:
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        ours: list[dict[str, Any]] = []
        one: list[dict[str, Any]] = []
        theirs: dict[str, list[dict[str, Any]]] = {d: [] for d in DRIVERS}
        for _ in range(runs):  # interleaved: every variant once per run
            ours.append(await run_vitaltrust(url, jobs, workers, concurrency, batch_size))
            if scaling:
                one.append(await run_vitaltrust(url, jobs, 1, concurrency, batch_size))
            if compare:
                for driver in DRIVERS:
                    theirs[driver].append(await run_pgqueuer(
                        url, jobs, workers, batch_size, concurrency * batch_size, driver))
        lat = {k: statistics.median(r["latency_ms"][k] for r in ours) for k in ("p50", "p95", "p99")}
        idle = {k: statistics.median(r["idle_latency_ms"][k] for r in ours)
                for k in ("p50", "p95", "p99")}
        report: dict[str, Any] = {
            "jobs": jobs, "workers": workers, "concurrency_per_worker": concurrency,
            "batch_size": batch_size, "runs": runs,
            "enqueue_per_s": _median(ours, "enqueue_per_s"),
            "enqueue_seconds": _median(ours, "enqueue_seconds"),
            "processed_per_s": _median(ours, "processed_per_s"),
            "latency_ms": lat, "idle_latency_ms": idle,
            "all_completed": all(r["completed"] == jobs for r in ours),
            "vitaltrust_runs": [r["processed_per_s"] for r in ours],
        }
        if scaling:
            report["one_worker"] = {"processed_per_s": _median(one, "processed_per_s"),
                                    "runs": [r["processed_per_s"] for r in one]}
            report["ratio_workers_vs_one"] = round(
                report["processed_per_s"] / report["one_worker"]["processed_per_s"], 3)
        if compare:
            for driver in DRIVERS:
                pgq = _median(theirs[driver], "processed_per_s")
                report[f"pgqueuer_{driver}"] = {
                    "processed_per_s": pgq, "batch_size": batch_size,
                    "max_concurrent_tasks": concurrency * batch_size,
                    "enqueue_per_s": _median(theirs[driver], "enqueue_per_s"),
                    "runs": [r["processed_per_s"] for r in theirs[driver]]}
                report[f"ratio_processed_vs_pgqueuer_{driver}"] = round(
                    report["processed_per_s"] / pgq, 3)
        return report
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                pgsql.Identifier(name)))


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("queue")
    def queue(
        jobs: Annotated[int, typer.Option(help="No-op jobs per run.", min=1)] = 20_000,
        workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 2,
        concurrency: Annotated[int | None, typer.Option(help="Slots per worker.", min=1)] = None,
        batch_size: Annotated[int | None, typer.Option(help="Jobs claimed per batch.", min=1)] = None,
        runs: Annotated[int, typer.Option(help="Runs; medians are reported.", min=1)] = 3,
        compare_pgqueuer: Annotated[bool, typer.Option(
            "--compare-pgqueuer", help="Also drain with pgqueuer (asyncpg and psycopg) on the "
                                       "same server, same batch size and jobs in flight.")] = False,
        workers_scaling: Annotated[bool, typer.Option(
            "--workers-scaling", help="Also drain with 1 worker in every run.")] = False,
    ) -> None:
        """Queue throughput and latency (JSON on stdout)."""
        from vitaltrust.cli import run, settings

        s = settings()
        report = run(bench(resolve_database_url(s), jobs=jobs, workers=workers,
                           concurrency=concurrency or s.worker_concurrency,
                           batch_size=batch_size or s.worker_batch_size, runs=runs,
                           compare=compare_pgqueuer, scaling=workers_scaling))
        typer.echo(json.dumps(report, indent=2))
