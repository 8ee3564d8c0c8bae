"""The health function: pure judgments, and the signals measured from a real database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from vitaltrust.db import Conn
from vitaltrust.monitoring.health import (
    HealthSignals,
    HealthThresholds,
    judge_health,
    measure_health_signals,
)
from vitaltrust.queue.enqueue import enqueue

T = HealthThresholds()
CALM = HealthSignals(pending=3, oldest_pending_seconds=2.0, drain_rate_per_s=5.0,
                     failed_rate_pct=0.5, webhook_success_pct=99.0, live_workers=2,
                     leader="w1", excellent_share_pct=90.0)
ADD_WORKER = """
INSERT INTO workers (worker_id, host, pid, version, concurrency, heartbeat_seconds, is_leader,
                     last_seen_at)
VALUES (%s, 'host', 1, 'test', 4, 10, %s, now())
"""


def finding(signals: HealthSignals, key: str) -> str:
    return next(f.status for f in judge_health(signals, T).findings if f.key == key)


def test_calm_system_is_healthy_with_every_key() -> None:
    report = judge_health(CALM, T)
    assert (report.pipeline, report.data_quality) == ("healthy", "healthy")
    assert {f.key for f in report.findings} == {
        "pending", "oldest_pending", "failed_rate", "webhook_success", "live_workers",
        "leader", "excellent_share"}
    assert report.summary("pipeline") == "All checks pass."


def test_data_quality_never_touches_the_pipeline() -> None:
    poor = judge_health(replace(CALM, excellent_share_pct=10.0), T)
    assert poor.data_quality == "poor" and poor.pipeline == "healthy"
    assert judge_health(replace(CALM, excellent_share_pct=75.0), T).data_quality == "degraded"


def test_backlog_drained_fast_enough_is_a_warning_not_critical() -> None:
    # "Recalculate all" on the demo: ~300 jobs at once, workers finishing 20 jobs/s
    burst = replace(CALM, pending=293, oldest_pending_seconds=400.0, drain_rate_per_s=20.0)
    report = judge_health(burst, T)
    assert report.pipeline == "degraded"
    pending = next(f for f in report.findings if f.key == "pending")
    assert pending.status == "warn"
    assert "293 jobs are pending (limit 100)" in pending.message
    assert "clears in about 15 s" in pending.message


def test_stuck_backlog_is_critical() -> None:
    stuck = replace(CALM, pending=293, oldest_pending_seconds=900.0, drain_rate_per_s=0.0)
    report = judge_health(stuck, T)
    assert report.pipeline == "critical"
    assert finding(stuck, "oldest_pending") == "critical"
    # big but young and not yet drained: a warning only
    young = replace(stuck, oldest_pending_seconds=20.0)
    assert judge_health(young, T).pipeline == "degraded"


def test_no_live_worker_with_pending_work_is_critical() -> None:
    dead = replace(CALM, live_workers=0, leader=None)
    assert judge_health(dead, T).pipeline == "critical"
    idle = replace(dead, pending=0, oldest_pending_seconds=None)
    assert judge_health(idle, T).pipeline == "degraded"


def test_missing_leader_and_rates() -> None:
    assert finding(replace(CALM, leader=None), "leader") == "warn"
    assert finding(replace(CALM, failed_rate_pct=6.0), "failed_rate") == "warn"
    assert finding(replace(CALM, failed_rate_pct=40.0), "failed_rate") == "critical"
    assert finding(replace(CALM, webhook_success_pct=90.0), "webhook_success") == "warn"
    assert finding(replace(CALM, webhook_success_pct=50.0), "webhook_success") == "critical"
    assert finding(replace(CALM, failed_rate_pct=None, webhook_success_pct=None),
                   "failed_rate") == "ok"


def test_messages_are_sentences_with_units_and_spaces() -> None:
    report = judge_health(replace(CALM, pending=500, oldest_pending_seconds=1000.0,
                                  drain_rate_per_s=0.0, failed_rate_pct=12.0), T)
    for f in report.findings:
        assert f.message.endswith("."), f.message
        assert "jobs" in f.message or "%" in f.message or "worker" in f.message \
            or "leader" in f.message or "waited" in f.message or "No " in f.message
    texts = " ".join(f.message for f in report.findings)
    assert "500 jobs are pending (limit 100)" in texts
    assert "12.0 % of finished jobs failed" in texts
    assert "has waited 16 min (limit 5 min)" in texts


@settings(deadline=None)  # pure and fast; a loaded shared machine must not fail it
@given(st.integers(0, 10_000), st.one_of(st.none(), st.floats(0, 1e5)), st.floats(0, 1000),
       st.one_of(st.none(), st.floats(0, 100)))
def test_excellent_share_never_changes_pipeline(pending: int, oldest: float | None,
                                                drain: float, share: float | None) -> None:
    s = replace(CALM, pending=pending, oldest_pending_seconds=oldest, drain_rate_per_s=drain)
    assert judge_health(s, T).pipeline == judge_health(
        replace(s, excellent_share_pct=share), T).pipeline


async def test_measure_signals_from_the_database(conn: Conn) -> None:
    empty = await measure_health_signals(conn)
    assert empty == HealthSignals(0, None, 0.0, None, None, 0, None, None)
    for _ in range(4):
        await enqueue(conn, "noop", {})
    await conn.execute(ADD_WORKER, ("w-lead", True))
    bucket = datetime.now(UTC).replace(second=0, microsecond=0)
    await conn.execute("INSERT INTO job_stats_minute (job_type, bucket, completed, failed) "
                       "VALUES ('noop', %s, 90, 10)", (bucket,))
    await conn.execute(
        "INSERT INTO webhook_stats_minute (source_id, bucket, received, processed, unmatched, "
        "failed) SELECT source_id, %s, 100, 80, 15, 5 FROM webhook_sources WHERE name = 'manual'",
        (bucket,))
    got = await measure_health_signals(conn)
    assert got.pending == 4 and got.live_workers == 1 and got.leader == "w-lead"
    assert got.oldest_pending_seconds is not None and got.oldest_pending_seconds < 60
    assert got.failed_rate_pct == 10.0
    assert got.webhook_success_pct is not None and abs(got.webhook_success_pct - 80 / 85 * 100) < 1e-6
    assert 0 < got.drain_rate_per_s <= 100 / 60
    report = judge_health(got, T)
    # 10 % failed (limit 5 %) and 94 % webhook success (minimum 95 %): two warnings
    assert report.pipeline == "degraded"
    assert {f.key for f in report.problems()} == {"failed_rate", "webhook_success"}
