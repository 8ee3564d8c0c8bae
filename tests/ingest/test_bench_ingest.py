"""`vitaltrust bench ingest` against a running server: JSON figures, every delivery stored."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.ingest.support import native_body, standard_headers
from tests.support.cli import run_cli
from tests.support.procs import running_api
from vitaltrust.app import create_app
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import create_source

pytestmark = pytest.mark.slow


async def test_bench_ingest_reports_figures_and_stores_every_delivery(db_url: str,
                                                                      conn: Conn) -> None:
    _, secret = await create_source(conn, "bench", "standard", rate_per_second=100000,
                                    rate_burst=100000, account_rate_per_second=100000,
                                    account_rate_burst=100000)
    with running_api(db_url, VITALTRUST_LOG_LEVEL="WARNING") as base:
        done = run_cli(db_url, "bench", "ingest", "--url", base, "--source", "bench",
                       "--secret", secret, "--requests", "300", "--concurrency", "8",
                       "--runs", "2", timeout=180)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["runs"]) == 2 and out["errors"] == 0
    assert out["accepted_per_s"] > 0 and out["baseline_per_s"] > 0
    assert out["baseline"] == "GET /healthz"  # the no-database route is not mounted there
    assert 0 < out["p50_ms"] <= out["p95_ms"] <= out["p99_ms"]
    assert all(r["ingest"]["statuses"] == {"202": 300} for r in out["runs"])
    row = await (await conn.execute("SELECT count(*) AS n FROM webhook_events")).fetchone()
    assert row is not None and row["n"] == 600  # each run sends fresh deliveries


def test_bench_ingest_self_hosted_serve_against_api_and_the_no_database_route(db_url: str) -> None:
    done = run_cli(db_url, "bench", "ingest", "--requests", "200", "--concurrency", "8",
                   "--runs", "1", "--accounts", "20", "--compare-api", timeout=240)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["baseline"].startswith("POST /bench/webhooks/")
    for server in ("serve", "api"):
        run = out[server]["runs"][0]
        assert run["ingest"]["statuses"] == {"202": 200}, run
        assert run["baseline"]["statuses"] == {"202": 200}, run
    assert out["serve_to_api_intake_ratio"] == pytest.approx(
        out["serve"]["accepted_per_s"] / out["api"]["accepted_per_s"], rel=0.01)


async def test_the_no_database_route_checks_signatures_stores_nothing_and_is_off_by_default(
        settings: Settings, db_url: str, conn: Conn) -> None:
    source, secret = await create_source(conn, "nostore", "standard")
    body = native_body()
    for enabled in (False, True):
        app = create_app(settings.model_copy(update={"bench_no_store_route": enabled}),
                         database_url=db_url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                good = await client.post(f"/bench/webhooks/{source.name}", content=body,
                                         headers=standard_headers(secret, body))
                forged = await client.post(f"/bench/webhooks/{source.name}", content=body,
                                           headers=standard_headers("whsec_" + "A" * 32, body))
        if enabled:
            assert good.status_code == 202 and good.json()["webhook_event_id"] is None
            assert forged.status_code == 401
            assert forged.headers["content-type"] == "application/problem+json"
        else:
            assert good.status_code == 404 and forged.status_code == 404
    row = await (await conn.execute("SELECT count(*) AS n FROM webhook_events")).fetchone()
    assert row == {"n": 0}
