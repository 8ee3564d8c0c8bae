"""The doctor's judges and the logs helpers are pure: measured values in, verdicts out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vitaltrust.monitoring.health import HealthSignals, judge_health
from vitaltrust.ops.judges import (
    Check,
    FailedType,
    Thresholds,
    judge_admin,
    judge_backlog,
    judge_confidence_cache,
    judge_database,
    judge_failed_jobs,
    judge_leader,
    judge_stalled_leases,
    judge_webhooks,
    judge_worker_alive,
    overall,
)
from vitaltrust.ops.logs import LogEntry, format_entry, levels_from, parse_duration

T = Thresholds()


def signals(pending: int, oldest: float | None, *, live: int = 1, drain: float = 0.0
            ) -> HealthSignals:
    return HealthSignals(pending=pending, oldest_pending_seconds=oldest, drain_rate_per_s=drain,
                         failed_rate_pct=None, webhook_success_pct=None, live_workers=live,
                         leader="w1" if live else None, excellent_share_pct=None)


def backlog(pending: int, oldest: float | None, t: Thresholds = T, **kw: float) -> Check:
    s = signals(pending, oldest, **kw)  # type: ignore[arg-type]
    return judge_backlog(judge_health(s, t.health()), s)


def alive(live: int, pending: int) -> Check:
    s = signals(pending, 1.0 if pending else None, live=live)
    return judge_worker_alive(judge_health(s, T.health()), live, pending)


def test_database_verdicts() -> None:
    assert judge_database("connection refused", [], []).status == "fail"
    pending = judge_database(None, ["0350"], [])
    assert pending.status == "fail" and "0350" in pending.value and pending.fix == "vitaltrust migrate"
    assert judge_database(None, [], ["9999"]).status == "warn"
    assert judge_database(None, [], []).status == "pass"


def test_worker_alive_fails_only_when_work_waits() -> None:
    assert alive(0, 3).status == "fail"
    assert "vitaltrust worker" in alive(0, 3).fix
    assert alive(0, 0).status == "warn"
    assert alive(2, 50).status == "pass"


def test_leader() -> None:
    assert judge_leader(None, 0).status == "warn"
    assert "logs" in judge_leader(None, 2).fix
    ok = judge_leader("w1 (host pid 7)", 1)
    assert ok.status == "pass" and "w1" in ok.value


def test_backlog_thresholds() -> None:
    assert backlog(0, None).status == "pass"
    assert backlog(99, 10).status == "pass"
    assert backlog(100, 10).status == "warn"
    stuck = backlog(3, 301)
    assert stuck.status == "fail" and "5 min" in stuck.value
    assert backlog(3, 301, Thresholds(max_pending_age_seconds=600)).status == "pass"
    # old, but the workers finish the backlog well within the limit
    assert backlog(300, 400, drain=10.0).status == "warn"


def test_failed_jobs_lists_latest_errors_by_type() -> None:
    assert judge_failed_jobs([]).status == "pass"
    c = judge_failed_jobs([FailedType("webhook_processing", 4, ["bad json", "no user"]),
                           FailedType("confidence_calculation", 1, ["boom"])])
    assert c.status == "warn"
    assert c.value == "webhook_processing 4, confidence_calculation 1"
    assert any("bad json | no user" in d for d in c.details)
    assert "retry-failed" in c.fix


def test_confidence_cache() -> None:
    assert judge_confidence_cache(0, 0, []).status == "pass"
    c = judge_confidence_cache(2, 1, ["user 1 weight (stale)"])
    assert c.status == "fail" and "2 stale, 1 missing" in c.value
    assert "recalculate-all" in c.fix


def test_webhook_success_rate() -> None:
    assert judge_webhooks(0, 0, 0, 0, 0, T).status == "pass"
    good = judge_webhooks(100, 96, 3, 1, 2, T)
    assert good.status == "pass" and good.value.startswith("97.0%")
    # unmatched deliveries wait for an account link: not counted against success
    assert judge_webhooks(100, 95, 0, 5, 0, T).status == "pass"
    assert judge_webhooks(100, 94, 6, 0, 0, T).status == "warn"
    bad = judge_webhooks(100, 90, 10, 0, 0, T)
    assert bad.status == "warn" and "below 95%" in bad.value
    assert judge_webhooks(100, 90, 10, 0, 0, Thresholds(min_webhook_success_pct=80)).status == "pass"


def test_stalled_leases() -> None:
    assert judge_stalled_leases(0, None, T).status == "pass"
    assert judge_stalled_leases(2, 30, T).status == "warn"
    assert judge_stalled_leases(2, 121, T).status == "fail"


def test_admin_and_overall() -> None:
    assert judge_admin(0).status == "fail"
    assert judge_admin(1).status == "pass"
    checks = [judge_admin(1), judge_leader(None, 0)]
    assert overall(checks) == "warn"
    assert overall([*checks, judge_admin(0)]) == "fail"
    assert overall([Check("x", "skip", "")]) == "pass"


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h", 3600), ("2d", 172800),
                                               ("45s", 45), ("1w", 604800), (" 5m ", 300)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "-1h", "0m", "1.5h", "1h30m", "1 hour"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="--since must be"):
        parse_duration(text)


def test_levels_are_a_floor() -> None:
    assert levels_from("error") == ["error"]
    assert levels_from("warning") == ["warning", "error"]
    assert levels_from(None) == ["debug", "info", "warning", "error"]
    with pytest.raises(ValueError):
        levels_from("fatal")


def test_format_entry_is_one_line_with_ids_and_error() -> None:
    e = LogEntry(id=1, created_at=datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC),
                 function_name="job-worker", level="error", event="job_failed", message=None,
                 job_id=42, job_type="confidence_calculation", attempts=5,
                 error="Traceback:\n  boom", webhook_event_id=7)
    line = format_entry(e)
    assert "\n" not in line
    assert line.startswith("2026-11-28 09:00:05Z  job-worker")
    for part in ("ERROR", "job_failed", "job=42 type=confidence_calculation attempts=5",
                 "webhook_event=7", "error: Traceback: boom"):
        assert part in line
