"""Bulk enqueue at scale and the `bench queue` scenario end to end (speed is the bench's job,
not a timed test's: `vitaltrust bench queue` reports the enqueue rate)."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import NewJob, enqueue_many


@pytest.mark.slow
async def test_bulk_enqueue_of_100000_jobs_in_one_transaction(conn: Conn) -> None:
    jobs = [NewJob("noop", {"i": i}) for i in range(100_000)]
    async with conn.transaction():
        ids = await enqueue_many(conn, jobs)
    assert len(ids) == 100_000 == len(set(ids))
    row = await (await conn.execute("SELECT count(*) AS n FROM background_jobs "
                                    "WHERE status = 'pending'")).fetchone()
    assert row == {"n": 100_000}


@pytest.mark.slow
def test_bench_queue_reports_rates_latency_and_the_pgqueuer_ratio(db_url: str) -> None:
    out = run_cli(db_url, "bench", "queue", "--jobs", "500", "--workers", "1", "--runs", "1",
                  "--concurrency", "2", "--compare-pgqueuer", "--workers-scaling", timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["all_completed"] is True and report["jobs"] == 500
    assert report["enqueue_per_s"] > 0 and report["processed_per_s"] > 0
    lat = report["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"]
    idle = report["idle_latency_ms"]
    assert 0 <= idle["p50"] <= idle["p95"] <= idle["p99"] < 2000  # NOTIFY, not the poll
    for driver in ("asyncpg", "psycopg"):
        theirs = report[f"pgqueuer_{driver}"]
        assert theirs["processed_per_s"] > 0
        assert (theirs["batch_size"], theirs["max_concurrent_tasks"]) == (
            report["batch_size"], 2 * report["batch_size"])  # same batch, same jobs in flight
        assert report[f"ratio_processed_vs_pgqueuer_{driver}"] == pytest.approx(
            report["processed_per_s"] / theirs["processed_per_s"], rel=0.01)
    assert report["ratio_workers_vs_one"] == pytest.approx(
        report["processed_per_s"] / report["one_worker"]["processed_per_s"], rel=0.01)
