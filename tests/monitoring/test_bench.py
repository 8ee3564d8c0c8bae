"""`vitaltrust bench seed` and `bench dashboard`, as an operator runs them (tiny scale)."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.support.cli import run_cli


@pytest.mark.slow
def test_seed_then_dashboard_bench(db_url: str) -> None:
    seeded = run_cli(db_url, "bench", "seed", "--scale", "0.001", "--days", "2", timeout=240)
    assert seeded.returncode == 0, seeded.stderr
    result = json.loads(seeded.stdout)
    rows = result["rows"]
    assert rows["background_jobs"] == 1000 and rows["webhook_deliveries"] == 2000
    assert rows["metric_samples"] == 10 * 10 * 100 and rows["cache_rows"] == 100

    again = run_cli(db_url, "bench", "seed", "--scale", "0.001", timeout=60)
    assert again.returncode != 0
    assert again.stderr.strip().startswith("error: the database already has users")

    bench = run_cli(db_url, "bench", "dashboard", "--runs", "3", "--warmup", "0",
                    "--pending", "2000", timeout=120)
    assert bench.returncode == 0, bench.stderr
    report = json.loads(bench.stdout)
    assert report["pending_backlog"] == 2000
    timings = report["results"]
    for snapshot in ("fresh", "stale"):
        for name in ("get_monitoring_dashboard_data()", "edge_function_performance",
                     "job_processing_stats", "data_quality_trends", "webhook_processing_stats"):
            key = f"{name} [{snapshot} snapshot]"
            assert timings[key]["rows"] > 0 and timings[key]["median_ms"] > 0, key
        assert timings[f"data_quality_trends [{snapshot} snapshot]"]["rows"] == 30 * 10
    with psycopg.connect(db_url) as c:  # the bench's backlog is gone again
        left = c.execute("SELECT count(*) FROM background_jobs "
                         "WHERE type = 'bench_dashboard_backlog'").fetchone()
        # the seed's bulk load bypasses triggers: the pending counters were rebuilt after it
        counted = c.execute("SELECT sum(pending) FROM job_pending_by_day").fetchone()
        direct = c.execute("SELECT count(*) FROM background_jobs "
                           "WHERE status = 'pending' AND NOT is_sandbox").fetchone()
    assert left == (0,)
    assert direct is not None and direct[0] > 0 and counted == direct
