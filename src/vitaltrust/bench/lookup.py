"""`vitaltrust bench lookup`: latency of a cached confidence lookup through the API.

A trainer's bearer token asks `GET /api/users/{id}/metrics/{metric}/confidence` for
random (client, metric) pairs through the whole app (authentication, access check, cache
read, JSON). --via http (default): a running `vitaltrust api` process over a real socket,
`--concurrency` keep-alive connections at once (requests pre-built, two load processes).
--via asgi: in-process, one request at a time, no socket (the handler's own cost).
Data: clients with samples and computed cache rows in a throw-away database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import typer

from vitaltrust.bench._confidence_data import BENCH_METRICS, bench_database, bench_pairs, fill
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings
from vitaltrust.db import connect, resolve_database_url

INSERT_TRAINER = """
INSERT INTO users (email, role) VALUES ('bench-trainer-' || %s || '@bench.invalid', 'trainer')
RETURNING user_id
"""
ASSIGN_ALL = """
INSERT INTO trainer_clients (client_id, trainer_id)
SELECT user_id, %s FROM unnest(%s::bigint[]) AS c(user_id) ON CONFLICT DO NOTHING
"""


def _percentile(sorted_ms: list[float], q: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return round(sorted_ms[index], 3)


@contextlib.asynccontextmanager
async def asgi_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in-process (no socket)."""
    from vitaltrust.app import create_app

    settings = Settings(database_url=url, log_level="WARNING", pool_min_size=2, pool_max_size=4)
    app = create_app(settings, database_url=url, run_migrations=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


async def _measure(client: httpx.AsyncClient, token: str, pairs: list[tuple[int, str]],
                   requests: int, warmup: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    rnd = random.Random(7)
    durations: list[float] = []
    for i in range(warmup + requests):
        user_id, metric = rnd.choice(pairs)
        t0 = time.perf_counter()
        r = await client.get(f"/api/users/{user_id}/metrics/{metric}/confidence", headers=headers)
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code != 200 or not r.json().get("cached"):
            raise RuntimeError(f"lookup failed: {r.status_code} {r.text[:200]}")
        if i >= warmup:
            durations.append(elapsed)
    return durations


def measure_http(url: str, paths: list[str], token: str, requests: int, concurrency: int,
                 runs: int, warmup: int = 200) -> list[dict[str, Any]]:
    """`runs` rounds of `requests` GETs against a `vitaltrust api` process on `url`'s database."""
    from vitaltrust.bench._loadgen import build_request, percentile, run_load
    from vitaltrust.bench._serve import serving

    headers = {"Authorization": f"Bearer {token}"}
    rnd = random.Random(7)
    out = []
    with serving(url, [["api"]]) as base:
        def batch(n: int) -> list[bytes]:
            return [build_request(base + rnd.choice(paths), "GET", b"", headers) for _ in range(n)]

        run_load(base, batch(warmup), concurrency=concurrency, processes=2)
        for _ in range(runs):
            tally = run_load(base, batch(requests), concurrency=concurrency, processes=2)
            ok = len(tally.latencies_ms)
            if ok != requests:
                raise RuntimeError(f"lookup failed: {tally.statuses} ({tally.errors} errors)")
            out.append({"p50_ms": percentile(tally.latencies_ms, 50),
                        "p90_ms": percentile(tally.latencies_ms, 90),
                        "p95_ms": percentile(tally.latencies_ms, 95),
                        "p99_ms": percentile(tally.latencies_ms, 99),
                        "max_ms": percentile(tally.latencies_ms, 100),
                        "requests_per_s": round(ok / max(tally.ended, 1e-9), 1)})
    return out


async def bench(server_url: str, given_url: str | None, *, users: int, requests: int,
                runs: int, via: str, keep: bool, concurrency: int = 8) -> dict[str, Any]:
    from vitaltrust.auth.tokens import issue_api_token

    metrics = len(BENCH_METRICS)
    async with bench_database(server_url, given_url, keep) as url:
        conn = await connect(url)
        try:
            tag, _ = await fill(conn, users=users, metrics=metrics, samples_per=15)
            pairs = await bench_pairs(conn, tag, metrics)
            for i in range(0, len(pairs), 500):
                async with conn.transaction():
                    await recalculate_pairs(conn, pairs[i:i + 500])
            async with conn.transaction():
                row = await (await conn.execute(INSERT_TRAINER, (tag,))).fetchone()
                assert row is not None
                trainer_id = int(row["user_id"])
                await conn.execute(ASSIGN_ALL, (trainer_id, sorted({u for u, _ in pairs})))
                _, token = await issue_api_token(conn, trainer_id, "bench")
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        results = []
        if via == "http":
            paths = [f"/api/users/{u}/metrics/{m}/confidence" for u, m in pairs]
            results = await asyncio.to_thread(measure_http, url, paths, token, requests,
                                              concurrency, runs)
        else:
            results = await _measure_asgi(url, token, pairs, requests, runs)
    return {
        "scenario": "lookup", "via": via, "endpoint": "GET /api/users/{id}/metrics/{metric}/confidence",
        "server": "vitaltrust api (own process), real socket" if via == "http" else "in-process ASGI",
        "concurrency": concurrency if via == "http" else 1,
        "cached_pairs": len(pairs), "requests_per_run": requests, "runs": results,
        "median_p50_ms": statistics.median(r["p50_ms"] for r in results),
        "median_p99_ms": statistics.median(r["p99_ms"] for r in results),
        "target_p99_ms": 5.0,
    }


async def _measure_asgi(url: str, token: str, pairs: list[tuple[int, str]], requests: int,
                        runs: int) -> list[dict[str, Any]]:
    results = []
    async with asgi_client(url) as client:
        for _ in range(runs):
            cpu = time.process_time()
            ms = sorted(await _measure(client, token, pairs, requests, warmup=200))
            cpu_ms = (time.process_time() - cpu) * 1000 / (requests + 200)
            results.append({"p50_ms": _percentile(ms, 0.50), "p90_ms": _percentile(ms, 0.90),
                            "p99_ms": _percentile(ms, 0.99), "max_ms": round(ms[-1], 3),
                            "requests_per_s": round(len(ms) / (sum(ms) / 1000), 1),
                            # this process (client + app; not PostgreSQL) per request
                            "process_cpu_ms_per_request": round(cpu_ms, 3)})
    return results


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("lookup")
    def lookup(
        users: Annotated[int, typer.Option(help="Clients (x 10 metrics each).", min=1)] = 500,
        requests: Annotated[int, typer.Option(help="Timed requests per run.", min=10)] = 3000,
        runs: Annotated[int, typer.Option(help="Runs; medians are reported.", min=1)] = 3,
        via: Annotated[str, typer.Option(
            help="http (a `vitaltrust api` process, real socket) | asgi (in-process)")] = "http",
        concurrency: Annotated[int, typer.Option(help="http: connections at once.", min=1)] = 8,
        database_url: Annotated[str | None, typer.Option(
            help="Use this database instead of a throw-away one.")] = None,
        keep: Annotated[bool, typer.Option(help="Keep the throw-away database.")] = False,
    ) -> None:
        """Cached confidence lookup latency through the API (JSON on stdout)."""
        from vitaltrust.cli import run, settings

        if via not in ("asgi", "http"):
            raise typer.BadParameter("--via is asgi or http")
        s = settings()
        typer.echo(json.dumps(run(bench(resolve_database_url(s), database_url, users=users,
                                        requests=requests, runs=runs, via=via, keep=keep,
                                        concurrency=concurrency)),
                              indent=2))
