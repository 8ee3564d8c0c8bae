"""`vitaltrust bench seed` and `bench dashboard`, as an operator runs them (tiny scale)."""

from __future__ import annotations

import json

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

    bench = run_cli(db_url, "bench", "dashboard", "--runs", "3", "--warmup", "0", timeout=120)
    assert bench.returncode == 0, bench.stderr
    timings = json.loads(bench.stdout)["results"]
    for name in ("get_monitoring_dashboard_data()", "edge_function_performance",
                 "job_processing_stats", "data_quality_trends", "webhook_processing_stats"):
        assert timings[name]["rows"] > 0 and timings[name]["median_ms"] > 0, name
    assert timings["data_quality_trends"]["rows"] == 30 * 10  # 30 days x 10 metrics
