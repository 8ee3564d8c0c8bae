"""`vitaltrust bench recalc`: recalculate N (user, metric) confidence pairs; pairs/s.

`--via queue` (default) enqueues every pair with `enqueue_initial_confidence_calculations()`
and drains the queue with `run_until_idle` in `--processes` processes: the production
path, one job per pair, claimed in batches of VITALTRUST_WORKER_BATCH_SIZE that the
batch handler scores together. `--via inline` is `confidence recalculate-all --now`:
batches of `--batch-size` pairs, one transaction each. Unless `--no-beside`, every run
also times the other path on the same data, so both are measured in the same run.
Data is generated in a throw-away database (or --database-url). JSON on stdout.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from typing import Annotated, Any

import typer

from vitaltrust.bench._confidence_data import BENCH_METRICS, bench_database, bench_pairs, fill
from vitaltrust.confidence.cache import Pair
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings
from vitaltrust.db import connect, create_pool, resolve_database_url

COUNT_CACHE = "SELECT count(*) AS n FROM metric_confidence_cache"
ENQUEUE_ALL = "SELECT count(*) AS n FROM enqueue_initial_confidence_calculations()"
START_DELAY = 1.5  # children start together, after their imports and connections


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


Span = tuple[float, float, float]  # began, ended (epoch s), CPU seconds of this process


async def _inline_chunk(url: str, pairs: list[Pair], batch_size: int, start_at: float
                        ) -> Span:
    conn = await connect(url)
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began, cpu = time.time(), time.process_time()
        for i in range(0, len(pairs), batch_size):
            async with conn.transaction():
                await recalculate_pairs(conn, pairs[i:i + batch_size])
        return began, time.time(), time.process_time() - cpu
    finally:
        await conn.close()


async def _queue_drain(url: str, start_at: float) -> Span:
    from vitaltrust.queue.worker import run_until_idle

    settings = Settings(database_url=url, pool_min_size=1, pool_max_size=2)
    pool = create_pool(url, settings, name="bench-recalc")
    await pool.open(wait=True)
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began, cpu = time.time(), time.process_time()
        await run_until_idle(pool, settings, timeout=3600)
        return began, time.time(), time.process_time() - cpu
    finally:
        await pool.close()


def _child(args: tuple[str, str, list[Pair], int, float]) -> Span:
    via, url, pairs, batch_size, start_at = args
    if via == "queue":
        return asyncio.run(_queue_drain(url, start_at))
    return asyncio.run(_inline_chunk(url, pairs, batch_size, start_at))


def _run_processes(via: str, url: str, pairs: list[Pair], processes: int,
                   batch_size: int) -> tuple[float, float]:
    start_at = time.time() + START_DELAY
    chunks = [pairs[i::processes] for i in range(processes)]
    work = [(via, url, sorted(chunk), batch_size, start_at) for chunk in chunks]
    if processes == 1:
        spans = [_child(work[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            spans = pool.map(_child, work)
    wall = max(end for _, end, _ in spans) - min(began for began, _, _ in spans)
    return wall, sum(cpu for _, _, cpu in spans)


async def _one_run(url: str, via: str, pairs: list[Pair], processes: int,
                   batch_size: int) -> dict[str, Any]:
    conn = await connect(url)
    try:
        enqueue_seconds = None
        if via == "queue":
            t0 = time.perf_counter()
            await conn.execute(ENQUEUE_ALL)
            enqueue_seconds = round(time.perf_counter() - t0, 3)
        seconds, cpu = await asyncio.to_thread(_run_processes, via, url, pairs, processes,
                                               batch_size)
        row = await (await conn.execute(COUNT_CACHE)).fetchone()
    finally:
        await conn.close()
    return {"seconds": round(seconds, 3), "pairs_per_s": round(len(pairs) / seconds, 1),
            # client-side CPU only (PostgreSQL's is not counted): robust on a busy machine
            "client_cpu_seconds": round(cpu, 2),
            "pairs_per_client_cpu_s": round(len(pairs) / cpu, 1) if cpu else None,
            "enqueue_seconds": enqueue_seconds, "cache_rows": row["n"] if row else 0}


async def bench(server_url: str, given_url: str | None, *, pairs: int, metrics: int,
                samples_per: int, processes: int, batch_size: int, via: str, runs: int,
                keep: bool, beside: bool = True) -> dict[str, Any]:
    users = max(1, -(-pairs // metrics))
    async with bench_database(server_url, given_url, keep) as url:
        conn = await connect(url)
        try:
            _say(f"generating {users} users x {metrics} metrics x {samples_per} samples ...")
            t0 = time.perf_counter()
            tag, _ = await fill(conn, users=users, metrics=metrics, samples_per=samples_per)
            generate_seconds = time.perf_counter() - t0
            chosen = (await bench_pairs(conn, tag, metrics))[:pairs]
        finally:
            await conn.close()
        results: list[dict[str, Any]] = []
        other = "inline" if via == "queue" else "queue"
        others: list[dict[str, Any]] = []
        for i in range(runs):
            _say(f"run {i + 1}/{runs}: {len(chosen)} pairs via {via}, {processes} process(es)")
            results.append(await _one_run(url, via, chosen, processes, batch_size))
            if beside:
                _say(f"run {i + 1}/{runs}: the same via {other}")
                others.append(await _one_run(url, other, chosen, processes, batch_size))
    report: dict[str, Any] = {
        "scenario": "recalc", "pairs": len(chosen), "via": via, "processes": processes,
        "inline_batch_size": batch_size, "metrics": metrics,
        "samples_per_pair": samples_per, "generate_seconds": round(generate_seconds, 1),
        "runs": results,
        "median_pairs_per_s": statistics.median(r["pairs_per_s"] for r in results),
        "median_seconds": statistics.median(r["seconds"] for r in results),
        "target_pairs_per_s": 1000,
    }
    if beside:
        median = statistics.median(r["pairs_per_s"] for r in others)
        report[other] = {"runs": others, "median_pairs_per_s": median}
        report[f"ratio_{via}_to_{other}"] = round(report["median_pairs_per_s"] / median, 3)
    return report


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("recalc")
    def recalc(
        pairs: Annotated[int, typer.Option(help="(user, metric) pairs.", min=1)] = 100_000,
        metrics: Annotated[int, typer.Option(
            help="Metrics per user.", min=1, max=len(BENCH_METRICS))] = 5,
        samples_per_pair: Annotated[int, typer.Option(
            help="Samples per pair over 30 days.", min=1)] = 15,
        processes: Annotated[int, typer.Option(help="Recalculating processes.", min=1)] = 2,
        batch_size: Annotated[int, typer.Option(help="inline: pairs per transaction.", min=1)]
            = 500,
        via: Annotated[str, typer.Option(help="queue (production) | inline")] = "queue",
        beside: Annotated[bool, typer.Option(
            help="Also time the other path in every run.")] = True,
        runs: Annotated[int, typer.Option(help="Runs; the median is reported.", min=1)] = 1,
        database_url: Annotated[str | None, typer.Option(
            help="Use this database instead of a throw-away one.")] = None,
        keep: Annotated[bool, typer.Option(help="Keep the throw-away database.")] = False,
    ) -> None:
        """Confidence recalculation throughput (JSON on stdout)."""
        from vitaltrust.cli import run, settings

        if via not in ("inline", "queue"):
            raise typer.BadParameter("--via is inline or queue")
        s = settings()
        report = run(bench(resolve_database_url(s), database_url, pairs=pairs, metrics=metrics,
                           samples_per=samples_per_pair, processes=processes,
                           batch_size=batch_size, via=via, runs=runs, keep=keep,
                           beside=beside))
        typer.echo(json.dumps(report, indent=2))
