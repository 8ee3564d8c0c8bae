"""`vitaltrust bench ingest` against a running server: JSON figures, every delivery stored."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli
from tests.support.procs import running_api
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
    assert out["accepted_per_s"] > 0 and out["healthz_per_s"] > 0
    assert 0 < out["p50_ms"] <= out["p95_ms"] <= out["p99_ms"]
    assert all(r["ingest"]["statuses"] == {"202": 300} for r in out["runs"])
    row = await (await conn.execute("SELECT count(*) AS n FROM webhook_events")).fetchone()
    assert row is not None and row["n"] == 600  # each run sends fresh deliveries
