"""`vitaltrust bench e2e` on a small scale: every accepted delivery is seen in the cache,
the percentiles are real numbers, and the bench rows are gone afterwards."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli
from tests.support.procs import running_api
from vitaltrust.db import Conn

pytestmark = pytest.mark.slow


async def test_bench_e2e_against_a_running_serve(db_url: str, conn: Conn) -> None:
    with running_api(db_url, command="serve", VITALTRUST_LOG_LEVEL="WARNING") as base:
        done = run_cli(db_url, "bench", "e2e", "--url", base, "--rate", "40", "--duration", "2",
                       "--users", "10", "--connections", "4", timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    [run] = out["runs"]
    assert run["sent"] == run["accepted"] == run["reflected"] == 80
    assert run["statuses"] == {"202": 80} and run["not_reflected"] == 0
    assert 0 <= run["p50_ms"] <= run["p95_ms"] <= run["max_ms"] < 30_000
    assert out["median"]["p95_ms"] == pytest.approx(run["p95_ms"], abs=0.1)
    left = await (await conn.execute(
        "SELECT (SELECT count(*) FROM users WHERE is_sandbox) AS users, (SELECT count(*) FROM metric_samples)"
        " AS samples, (SELECT count(*) FROM webhook_sources WHERE is_sandbox) AS sources"
    )).fetchone()
    assert left == {"users": 0, "samples": 0, "sources": 0}  # (serve made its first admin)


def test_a_delivery_never_reflected_counts_as_the_whole_run() -> None:
    from vitaltrust.bench.e2e import latencies_ms

    lat, misses = latencies_ms([1.0, 2.0, None, 3.0], [1.25, None, None, 3.5], 0.0, 40.0)
    assert misses == 1  # the rejected delivery (no 202) is neither a latency nor a miss
    assert lat == [250.0, 40_000.0, 500.0]


def test_bench_e2e_backlog_on_its_own_serve_with_linked_users(db_url: str) -> None:
    done = run_cli(db_url, "bench", "e2e", "--backlog", "60", "--users", "6",
                   "--connections", "4", "--settle", "60", timeout=240)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["mode"] == "backlog" and out["server"] == "serve"
    [run] = out["runs"]["candidate"]
    assert run["accepted"] == run["reflected"] == 60 and run["not_reflected"] == 0
    assert run["deliveries_per_s"] > 0 and run["seconds"] > 0
    assert out["median"]["candidate"]["deliveries_per_s"] == run["deliveries_per_s"]
