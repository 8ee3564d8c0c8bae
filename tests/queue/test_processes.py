"""Real `vitaltrust worker` processes: exactly-once drain, SIGKILL rescue, graceful stop."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.queue.workers import NOT_ONCE, UNFINISHED, enqueue_bulk, scalar, start_workers, wait_until
from tests.support.procs import stop


@pytest.mark.slow
def test_four_workers_drain_20000_jobs_exactly_once(db_url: str, tmp_path: Path) -> None:
    procs = start_workers(db_url, 4, tmp_path, concurrency=4)
    try:
        wait_until(db_url, "SELECT count(*) FROM workers", 4, within=30)
        enqueue_bulk(db_url, 20_000, {})
        took = wait_until(db_url, UNFINISHED, 0, within=120)
        assert all(p.poll() is None for p in procs)
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0, 0, 0]
    assert scalar(db_url, "SELECT count(*) FROM background_jobs WHERE status = 'completed'") == 20_000
    assert scalar(db_url, NOT_ONCE) == 0  # each job: completed, and its handler's write once
    assert scalar(db_url, "SELECT count(*) FROM test_job_calls") == 20_000
    assert scalar(db_url, "SELECT count(DISTINCT pid) FROM test_job_calls") == 4
    assert scalar(db_url, "SELECT count(*) FROM workers") == 0  # deregistered on clean exit
    print(f"4 workers drained 20000 jobs in {took:.1f}s")


@pytest.mark.drill
def test_sigkill_mid_batch_jobs_are_rescued_once(db_url: str, tmp_path: Path) -> None:
    """The leader is killed while it holds jobs: another takes over, rescues them after the
    lease (5 s) and the next scheduler period (1 s), and each job's effects land once."""
    procs = start_workers(db_url, 3, tmp_path, concurrency=2, VITALTRUST_WORKER_BATCH_SIZE="5")
    by_pid = {p.pid: p for p in procs}
    try:
        wait_until(db_url, "SELECT count(*) FROM workers WHERE is_leader", 1, within=30)
        enqueue_bulk(db_url, 600, {"sleep_ms": 40})
        leader = scalar(db_url, "SELECT pid FROM workers WHERE is_leader")
        assert isinstance(leader, int)
        held_query = ("SELECT array_agg(id) FROM background_jobs WHERE status = 'processing' "
                      "AND locked_by LIKE %s")
        pattern = f"worker:%:{leader}:%"
        wait_until(db_url, held_query, lambda ids: ids is not None and len(ids) >= 3, within=20,
                   params=(pattern,))
        os.killpg(leader, signal.SIGKILL)
        killed_at = time.monotonic()
        held = scalar(db_url, held_query, (pattern,))
        assert isinstance(held, list) and held
        # every job the victim held is done by someone else within lease + scheduler period
        # (+ one batch of 5 x 40 ms and some slack for a loaded machine)
        wait_until(db_url, "SELECT count(*) FROM background_jobs WHERE id = ANY(%s) "
                           "AND status = 'completed'", len(held), within=5 + 1 + 2.5, params=(held,))
        rescued_within = time.monotonic() - killed_at
        wait_until(db_url, UNFINISHED, 0, within=60)
        new_leader = scalar(db_url, "SELECT pid FROM workers WHERE is_leader")
        assert new_leader in by_pid and new_leader != leader
    finally:
        for p in procs:
            stop(p)
    assert scalar(db_url, NOT_ONCE) == 0  # nothing lost, nothing completed twice
    assert scalar(db_url, "SELECT count(*) FROM test_job_calls WHERE pid = %s AND job_id = ANY(%s)",
                  (leader, held)) == 0  # the victim's uncommitted work left no trace
    assert scalar(db_url, "SELECT min(attempts) FROM background_jobs WHERE id = ANY(%s)",
                  (held,)) == 1  # the rescue counted as an attempt
    print(f"victim held {len(held)} jobs; all completed {rescued_within:.1f}s after SIGKILL")


@pytest.mark.slow
def test_sigterm_finishes_the_batch_and_exits_cleanly(db_url: str, tmp_path: Path) -> None:
    (proc,) = start_workers(db_url, 1, tmp_path, concurrency=2, VITALTRUST_WORKER_BATCH_SIZE="4")
    try:
        wait_until(db_url, "SELECT count(*) FROM workers", 1, within=30)
        enqueue_bulk(db_url, 40, {"sleep_ms": 200})
        wait_until(db_url, "SELECT count(*) FROM background_jobs WHERE status = 'processing'",
                   lambda n: n >= 4, within=20)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - t0 < 5  # the shutdown timeout
    finally:
        stop(proc)
    assert scalar(db_url, "SELECT count(*) FROM background_jobs WHERE status = 'processing'") == 0
    assert scalar(db_url, "SELECT count(*) FROM background_jobs WHERE status = 'pending' "
                          "AND attempts > 0") == 0  # handed back, no attempt counted
    done = scalar(db_url, "SELECT count(*) FROM background_jobs WHERE status = 'completed'")
    assert isinstance(done, int) and 0 < done < 40
    assert scalar(db_url, "SELECT count(*) FROM test_job_calls") == done
    assert scalar(db_url, "SELECT count(*) FROM workers") == 0
