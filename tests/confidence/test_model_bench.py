"""The `confidence` bench scenario: its series is what it claims, and it prints JSON."""

from __future__ import annotations

import json
from collections import Counter

import typer
from typer.testing import CliRunner

from tests.confidence.series import NOW
from vitaltrust.bench import confidence as bench


def test_series_is_a_year_from_three_sources_with_daily_conflicts() -> None:
    samples = bench.build_series("weight", 365, 1, NOW)
    assert 1090 <= len(samples) <= 1100
    assert Counter(s.device_type for s in samples).keys() == {"scale", "watch", "manual"}
    assert min(s.measured_at for s in samples) < NOW.replace(year=NOW.year - 1)


def test_scenario_prints_timings_as_json() -> None:
    app = typer.Typer()
    bench.register(app)
    app.command("noop")(lambda: None)  # typer runs a lone command without its name
    result = CliRunner().invoke(app, ["confidence", "--days", "40", "--runs", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["scenario"] == "confidence" and report["runs"] == 3
    assert 0 < report["min_ms"] <= report["median_ms"] <= report["p95_ms"]
    assert report["cpu_median_ms"] > 0
    assert report["samples_in_window"] > 80 and report["conflicts"] > 0
