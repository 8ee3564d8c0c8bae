"""Smoke runs of `bench recalc` and `bench lookup` at a tiny size (JSON on stdout)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli


@pytest.mark.slow
def test_bench_recalc_and_lookup_report_json(db_url: str) -> None:
    recalc = run_cli(db_url, "bench", "recalc", "--pairs", "30", "--processes", "1",
                     timeout=180)
    assert recalc.returncode == 0, recalc.stderr
    report = json.loads(recalc.stdout)
    assert report["pairs"] == 30 and report["runs"][0]["cache_rows"] == 30
    assert report["median_pairs_per_s"] > 0

    lookup = run_cli(db_url, "bench", "lookup", "--users", "3", "--requests", "20",
                     "--runs", "1", timeout=180)
    assert lookup.returncode == 0, lookup.stderr
    report = json.loads(lookup.stdout)
    assert report["cached_pairs"] == 30 and report["median_p99_ms"] > 0
