"""`vitaltrust bench clients`: server time of the trainer view's data, `GET /api/clients`.

A trainer with 200 clients x 6 metrics of cached confidence (computed by the real
confidence job from 30 days of samples, so every row has its sparkline) asks for the
whole list. --via http (default): a running `vitaltrust api` process over a real socket,
`--concurrency` connections at once; --via asgi: in-process, one request at a time (no
socket). Also timed: the same list filtered to poor weight, the /clients page shell, and
the query alone (client_summaries_json, one connection).
Target (issue 9): under 300 ms server time for the full list.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
import typer

from vitaltrust.bench._confidence_data import bench_database, bench_pairs, fill
from vitaltrust.bench.lookup import (
    ASSIGN_ALL,
    INSERT_TRAINER,
    _percentile,
    asgi_client,
    measure_http,
)
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.db import Conn, connect, resolve_database_url

TARGET_MS = 300.0
RECALC_CHUNK = 500


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": _percentile(ms, 0.95),
            "max_ms": round(ms[-1], 3)}


async def _timed(call: Callable[[], Awaitable[None]], requests: int, warmup: int) -> list[float]:
    out: list[float] = []
    for i in range(warmup + requests):
        t0 = time.perf_counter()
        await call()
        if i >= warmup:
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def _seed(conn: Conn, clients: int, metrics: int) -> tuple[int, str, int]:
    """(trainer id, bearer token, cached pairs) for a trainer owning every bench client."""
    from vitaltrust.auth.tokens import issue_api_token

    tag, _ = await fill(conn, users=clients, metrics=metrics, samples_per=30)
    pairs = await bench_pairs(conn, tag, metrics)
    for i in range(0, len(pairs), RECALC_CHUNK):
        async with conn.transaction():
            await recalculate_pairs(conn, pairs[i:i + RECALC_CHUNK])
    async with conn.transaction():
        row = await (await conn.execute(INSERT_TRAINER, (tag,))).fetchone()
        assert row is not None
        trainer_id = int(row["user_id"])
        await conn.execute(ASSIGN_ALL, (trainer_id, sorted({u for u, _ in pairs})))
        _, token = await issue_api_token(conn, trainer_id, "bench")
    await conn.execute("ANALYZE")
    return trainer_id, token, len(pairs)


ENDPOINTS = (("api_clients", "/api/clients"),
             ("api_clients_weight_poor", "/api/clients?metric=weight&level=poor"),
             ("clients_page", "/clients"))


async def bench(server_url: str, given_url: str | None, *, clients: int, metrics: int,
                requests: int, keep: bool, via: str = "http",
                concurrency: int = 8) -> dict[str, Any]:
    from vitaltrust.auth.principal import Principal
    from vitaltrust.metrics.clients_api import client_summaries_json

    async with bench_database(server_url, given_url, keep) as url:
        conn = await connect(url)
        try:
            trainer_id, token, pairs = await _seed(conn, clients, metrics)
            trainer = Principal(trainer_id, "bench-trainer@bench.invalid", "trainer", "token")

            async def query_only() -> None:
                await client_summaries_json(conn, trainer)

            query_ms = await _timed(query_only, requests, warmup=5)
        finally:
            await conn.close()
        headers = {"Authorization": f"Bearer {token}"}
        results: dict[str, Any] = {}
        async with asgi_client(url) as client:
            body = (await client.get("/api/clients", headers=headers)).json()
            for name, path in ENDPOINTS if via == "asgi" else ():
                async def call(path: str = path) -> None:
                    r: httpx.Response = await client.get(path, headers=headers)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: {r.status_code} {r.text[:200]}")

                results[name] = _summary(await _timed(call, requests, warmup=5))
        for name, path in ENDPOINTS if via == "http" else ():
            run = (await asyncio.to_thread(measure_http, url, [path], token, requests,
                                           concurrency, 1, 5))[0]
            results[name] = {"median_ms": run["p50_ms"], "p95_ms": run["p95_ms"],
                             "p99_ms": run["p99_ms"], "max_ms": run["max_ms"],
                             "requests_per_s": run["requests_per_s"]}
    results["query_only"] = _summary(query_ms)
    served = results["api_clients"]
    return {
        "scenario": "clients", "endpoint": "GET /api/clients (trainer)",
        "via": f"http, vitaltrust api process, {concurrency} connections" if via == "http"
               else "asgi in-process",
        "clients": len(body["clients"]), "metrics_per_client": metrics, "cached_pairs": pairs,
        "response_bytes": len(json.dumps(body)), "requests": requests, **results,
        "target_ms": TARGET_MS,
        "meets_target": served["p95_ms"] < TARGET_MS,
    }


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("clients")
    def clients_cmd(
        clients: Annotated[int, typer.Option(help="Clients of the trainer.", min=1)] = 200,
        metrics: Annotated[int, typer.Option(help="Metrics per client.", min=1, max=10)] = 6,
        requests: Annotated[int, typer.Option(help="Timed requests per endpoint.", min=5)] = 50,
        database_url: Annotated[str | None, typer.Option(
            help="Use this database instead of a throw-away one.")] = None,
        keep: Annotated[bool, typer.Option(help="Keep the throw-away database.")] = False,
        via: Annotated[str, typer.Option(
            help="http (a `vitaltrust api` process, real socket) | asgi (in-process)")] = "http",
        concurrency: Annotated[int, typer.Option(help="http: connections at once.", min=1)] = 8,
    ) -> None:
        """Server time of the trainer view's list, GET /api/clients (JSON on stdout)."""
        from vitaltrust.cli import run, settings

        if via not in ("asgi", "http"):
            raise typer.BadParameter("--via is asgi or http")
        s = settings()
        typer.echo(json.dumps(run(bench(resolve_database_url(s), database_url, clients=clients,
                                        metrics=metrics, requests=requests, keep=keep,
                                        via=via, concurrency=concurrency)),
                              indent=2))
