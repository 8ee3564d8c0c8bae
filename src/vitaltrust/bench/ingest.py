"""`vitaltrust bench ingest`: signed deliveries to linked accounts, and in the same run
the same deliveries to the same process's no-database twin of the route (signature check,
JSON, no write: POST /bench/webhooks/NAME) for scale.

    vitaltrust bench ingest                  # own `vitaltrust serve` on a throw-away database
    vitaltrust bench ingest --compare-api    # ... and `vitaltrust api` alone, interleaved
    vitaltrust bench ingest --url http://127.0.0.1:8000 --source NAME --secret whsec_...

Self-hosted, the deliveries go to `--accounts` provider accounts linked to users, so the
worker that `serve` runs processes them while intake is measured (the production load).
Against `--url` the baseline is GET /healthz (the no-database route is not mounted there
unless VITALTRUST_BENCH_NO_STORE_ROUTE=true). Prints JSON: every run and the medians.
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
            processes: int, accounts: int, no_store_baseline: bool) -> dict[str, Any]:
    if no_store_baseline:
        url = f"{base}/bench/webhooks/{source}"
        baseline = build_deliveries(url, kind, secret, n, accounts)
    else:
        url = base + "/healthz"
        baseline = [build_request(url, "GET", b"", {})] * n
    b = summarize(run_load(url, baseline, concurrency=concurrency, processes=processes), n)
    url = f"{base}/webhooks/{source}"
    deliveries = build_deliveries(url, kind, secret, n, accounts)
    d = summarize(run_load(url, deliveries, concurrency=concurrency, processes=processes), n)
    return {"ingest": d, "baseline": b}


def _median(runs: list[dict[str, Any]], part: str, key: str) -> float | None:
    values = [r[part][key] for r in runs if r[part][key] is not None]
    return round(statistics.median(values), 2) if values else None


LINK_ACCOUNTS = """
WITH u AS (
    INSERT INTO users (email, role, display_name)
    SELECT 'ingest-' || g || '@bench.invalid', 'client', 'bench ingest'
    FROM generate_series(0, %(n)s - 1) AS g
    RETURNING user_id, split_part(split_part(email, '@', 1), '-', 2) AS g
)
INSERT INTO source_accounts (source_id, external_user_id, user_id)
SELECT %(source_id)s, 'bench-' || u.g, u.user_id FROM u
"""


@contextmanager
def self_hosted(rate: float, server: str, accounts: int) -> Iterator[tuple[str, str, str]]:
    """A throw-away database, `vitaltrust serve` (or `api`) on it with the no-database route,
    a source whose accounts are linked to users: yields (base url, source, secret)."""
    from vitaltrust.bench._serve import throwaway_deployment
    from vitaltrust.ingest.sources import create_source

    async def bench_source(conn: Conn) -> str:
        source, secret = await create_source(
            conn, "bench", "standard", rate_per_second=rate, rate_burst=int(rate),
            account_rate_per_second=rate, account_rate_burst=int(rate))
        await conn.execute(LINK_ACCOUNTS, {"n": accounts, "source_id": source.source_id})
        return secret

    env = {"VITALTRUST_BENCH_NO_STORE_ROUTE": "true"}
    with throwaway_deployment([[server]], bench_source, env) as (base, _, secret):
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
        server: Annotated[str, typer.Option(
            help="Self-hosted: serve (API + worker, the default) or api (API alone).")] = "serve",
        compare_api: Annotated[bool, typer.Option(
            "--compare-api", help="Self-hosted: also run `api` alone in every run; report "
                                  "serve's intake against it.")] = False,
        rate: Annotated[float, typer.Option(help="Self-hosted: the source's rate limit/s.")] = 100000,
    ) -> None:
        """Send signed deliveries; print accepted/s and latency percentiles as JSON."""

        if server not in ("serve", "api"):
            raise typer.BadParameter("--server is serve or api")

        def measure(base: str, src: str, sec: str, no_store: bool) -> dict[str, Any]:
            return one_run(base.rstrip("/"), kind, src, sec, requests, concurrency, processes,
                           accounts, no_store)

        if url is not None:
            if not (source and secret):
                raise typer.BadParameter("--source and --secret are required with --url")
            results = [measure(url, source, secret, False) for _ in range(runs)]
            typer.echo(json.dumps({"url": url, "source": source, "baseline": "GET /healthz",
                                   **_report(results, kind, requests, concurrency, processes)},
                                  indent=2))
            return
        servers = [server, *(["api"] if compare_api and server != "api" else [])]
        by_server: dict[str, list[dict[str, Any]]] = {s: [] for s in servers}
        for _ in range(runs):  # interleaved: each server once per run, fresh database each
            for name in servers:
                with self_hosted(rate, name, accounts) as (base, src, sec):
                    by_server[name].append(measure(base, src, sec, True))
        out: dict[str, Any] = {
            "baseline": "POST /bench/webhooks/NAME (same process, signed, no database)",
            **{name: _report(r, kind, requests, concurrency, processes)
               for name, r in by_server.items()}}
        if len(servers) == 2:
            out["serve_to_api_intake_ratio"] = round(
                out[server]["accepted_per_s"] / out["api"]["accepted_per_s"], 3)
        typer.echo(json.dumps(out, indent=2))


def _report(results: list[dict[str, Any]], kind: str, requests: int, concurrency: int,
            processes: int) -> dict[str, Any]:
    median = {
        "accepted_per_s": _median(results, "ingest", "per_s"),
        "p50_ms": _median(results, "ingest", "p50_ms"),
        "p95_ms": _median(results, "ingest", "p95_ms"),
        "p99_ms": _median(results, "ingest", "p99_ms"),
        "errors": _median(results, "ingest", "errors"),
        "baseline_per_s": _median(results, "baseline", "per_s"),
        "baseline_p99_ms": _median(results, "baseline", "p99_ms"),
    }
    if median["accepted_per_s"] and median["baseline_per_s"]:
        median["ingest_to_baseline_ratio"] = round(
            median["accepted_per_s"] / median["baseline_per_s"], 3)
    return {"kind": kind, "requests": requests, "concurrency": concurrency,
            "processes": processes, "runs": results, **median}
