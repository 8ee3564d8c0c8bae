"""`vitaltrust bench ingest`: signed deliveries against a running server, with the same
server's rate on GET /healthz (no database work) measured in the same run for scale.

    vitaltrust bench ingest --url http://127.0.0.1:8000 --source NAME --secret whsec_...
    vitaltrust bench ingest --self-host      # own `vitaltrust api` on a throw-away database

Prints JSON: every run, and the medians over runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from vitaltrust.bench._loadgen import Tally, build_request, percentile, run_load
from vitaltrust.db import Conn


def _sample_body(i: int, accounts: int) -> bytes:
    return json.dumps({"type": "samples", "user": f"bench-{i % accounts}", "samples": [
        {"metric": "weight", "value": round(70 + (i % 300) / 10, 1), "unit": "kg",
         "measured_at": "2026-11-28T07:02:00+01:00", "device": {"type": "scale"},
         "id": f"bench-{i}"}]}, separators=(",", ":")).encode()


def signed_headers(kind: str, secret: str, body: bytes, msg_id: str, ts: int) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if kind in ("standard", "junction"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
        mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        prefix = "webhook" if kind == "standard" else "svix"
        headers.update({f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts),
                        f"{prefix}-signature": "v1," + base64.b64encode(mac).decode()})
    elif kind == "terra":
        mac_hex = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        headers.update({"terra-signature": f"t={ts},v1={mac_hex}", "terra-reference": msg_id})
    else:
        headers["x-vitaltrust-secret"] = secret
    return headers


def build_deliveries(url: str, kind: str, secret: str, n: int, accounts: int) -> list[bytes]:
    ts = int(time.time())
    run_id = uuid.uuid4().hex[:10]
    out = []
    for i in range(n):
        body = _sample_body(i, accounts)
        if kind in ("garmin", "terra"):  # the body hash is the event id: vary the body
            body = body[:-1] + f',"n":"{run_id}-{i}"}}'.encode()
        out.append(build_request(url, "POST", body,
                                 signed_headers(kind, secret, body, f"msg_{run_id}_{i}", ts)))
    return out


def summarize(t: Tally, n: int) -> dict[str, Any]:
    ok = len(t.latencies_ms)
    span = max(t.ended - t.started, 1e-9)
    return {"requests": n, "ok": ok, "per_s": round(ok / span, 1), "seconds": round(span, 3),
            "p50_ms": percentile(t.latencies_ms, 50), "p95_ms": percentile(t.latencies_ms, 95),
            "p99_ms": percentile(t.latencies_ms, 99), "errors": n - ok,
            "statuses": {str(k): v for k, v in sorted(t.statuses.items())}}


def one_run(base: str, kind: str, source: str, secret: str, n: int, concurrency: int,
            processes: int, accounts: int) -> dict[str, Any]:
    health = [build_request(base + "/healthz", "GET", b"", {})] * n
    h = summarize(run_load(base + "/healthz", health, concurrency=concurrency,
                           processes=processes), n)
    url = f"{base}/webhooks/{source}"
    deliveries = build_deliveries(url, kind, secret, n, accounts)
    d = summarize(run_load(url, deliveries, concurrency=concurrency, processes=processes), n)
    return {"ingest": d, "healthz": h}


def _median(runs: list[dict[str, Any]], part: str, key: str) -> float | None:
    values = [r[part][key] for r in runs if r[part][key] is not None]
    return round(statistics.median(values), 2) if values else None


@contextmanager
def self_hosted(rate: float) -> Iterator[tuple[str, str, str]]:
    """A throw-away database and `vitaltrust api` on it: yields (base url, source, secret)."""
    from vitaltrust.bench._serve import throwaway_deployment
    from vitaltrust.ingest.sources import create_source

    async def bench_source(conn: Conn) -> str:
        _, secret = await create_source(conn, "bench", "standard", rate_per_second=rate,
                                        rate_burst=int(rate), account_rate_per_second=rate,
                                        account_rate_burst=int(rate))
        return secret

    with throwaway_deployment([["api"]], bench_source) as (base, _, secret):
        assert secret is not None
        yield base, "bench", secret


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("ingest")
    def bench_ingest(
        url: Annotated[str | None, typer.Option(help="Server base URL, e.g. http://127.0.0.1:8000.")] = None,
        source: Annotated[str | None, typer.Option(help="Source name (/webhooks/NAME).")] = None,
        secret: Annotated[str | None, typer.Option(help="The source's signing/shared secret.")] = None,
        kind: Annotated[str, typer.Option(help="standard, junction, terra or garmin.")] = "standard",
        requests: Annotated[int, typer.Option(help="Deliveries per run.", min=1)] = 6000,
        concurrency: Annotated[int, typer.Option(help="Open connections.", min=1)] = 32,
        processes: Annotated[int, typer.Option(help="Load-generator processes.", min=1)] = 1,
        runs: Annotated[int, typer.Option(help="Runs; medians are reported.", min=1)] = 3,
        accounts: Annotated[int, typer.Option(help="Distinct provider accounts.", min=1)] = 1000,
        self_host: Annotated[bool, typer.Option(
            "--self-host", help="Start `vitaltrust api` on a throw-away database.")] = False,
        rate: Annotated[float, typer.Option(help="--self-host: the source's rate limit/s.")] = 100000,
    ) -> None:
        """Send signed deliveries; print accepted/s and latency percentiles as JSON."""

        def go(base: str, src: str, sec: str) -> None:
            results = [one_run(base.rstrip("/"), kind, src, sec, requests, concurrency, processes,
                               accounts) for _ in range(runs)]
            median = {
                "accepted_per_s": _median(results, "ingest", "per_s"),
                "p50_ms": _median(results, "ingest", "p50_ms"),
                "p95_ms": _median(results, "ingest", "p95_ms"),
                "p99_ms": _median(results, "ingest", "p99_ms"),
                "errors": _median(results, "ingest", "errors"),
                "healthz_per_s": _median(results, "healthz", "per_s"),
                "healthz_p99_ms": _median(results, "healthz", "p99_ms"),
            }
            if median["accepted_per_s"] and median["healthz_per_s"]:
                median["ingest_to_healthz_ratio"] = round(
                    median["accepted_per_s"] / median["healthz_per_s"], 3)
            typer.echo(json.dumps({"url": base, "source": src, "kind": kind, "requests": requests,
                                   "concurrency": concurrency, "processes": processes,
                                   "runs": results, "median": median, **median}, indent=2))

        if self_host:
            with self_hosted(rate) as (base, src, sec):
                go(base, src, sec)
            return
        if not (url and source and secret):
            raise typer.BadParameter("--url, --source and --secret are required (or --self-host)")
        go(url, source, secret)
