"""The one place that decides health: measured signals in, a report with findings out.

Pipeline health (backlog and its age, failure rate, webhook success, live workers, the
scheduler leader) is judged apart from data quality (the share of excellent confidence):
data quality never makes the pipeline critical. A backlog the workers are draining fast
enough (it would clear within `max_oldest_pending_seconds`) is at most a warning; pending
work with no live worker is critical. `doctor`, `/api/admin/monitoring`, `/readyz` and the
dashboard all call `judge_health`; `measure_health_signals` reads the inputs in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from vitaltrust.config import Settings
    from vitaltrust.db import Conn

Area = Literal["pipeline", "data_quality"]
Status = Literal["ok", "warn", "critical"]
PipelineStatus = Literal["healthy", "degraded", "critical"]
QualityStatus = Literal["healthy", "degraded", "poor"]

# Drain rate: jobs finished (completed or finally failed) per second over this many seconds.
DRAIN_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class HealthThresholds:
    """Limits; `from_settings` reads the `VITALTRUST_HEALTH_*` settings."""

    max_pending: int = 100
    max_oldest_pending_seconds: float = 300.0
    max_failed_rate_pct: float = 5.0
    min_webhook_success_pct: float = 95.0
    min_excellent_share_pct: float = 80.0
    # beyond these the finding is critical rather than a warning
    critical_failed_rate_pct: float = 25.0
    critical_webhook_success_pct: float = 75.0
    poor_excellent_share_pct: float = 40.0

    @classmethod
    def from_settings(cls, s: Settings) -> HealthThresholds:
        return cls(max_pending=s.health_max_pending,
                   max_oldest_pending_seconds=s.health_max_oldest_pending_seconds,
                   max_failed_rate_pct=s.health_max_failed_rate_pct,
                   min_webhook_success_pct=s.health_min_webhook_success_pct,
                   min_excellent_share_pct=s.health_min_excellent_share_pct)


@dataclass(frozen=True)
class HealthSignals:
    pending: int
    oldest_pending_seconds: float | None   # longest wait of a runnable pending job
    drain_rate_per_s: float                # jobs finished per second, recent minutes
    failed_rate_pct: float | None          # finally failed among finished jobs, in the window
    webhook_success_pct: float | None      # processed among processed + failed, in the window
    live_workers: int
    leader: str | None
    excellent_share_pct: float | None      # of cached (user, metric) scores in scope


@dataclass(frozen=True)
class Finding:
    key: str
    area: Area
    status: Status
    value: float | int | str | None
    threshold: float | int | str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "area": self.area, "status": self.status, "value": self.value,
                "threshold": self.threshold, "message": self.message}


@dataclass(frozen=True)
class HealthReport:
    pipeline: PipelineStatus
    data_quality: QualityStatus
    findings: tuple[Finding, ...]

    def for_area(self, area: Area) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.area == area)

    def problems(self, area: Area | None = None) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings
                     if f.status != "ok" and (area is None or f.area == area))

    def summary(self, area: Area) -> str:
        found = self.problems(area)
        if not found:
            return "All checks pass."
        return " ".join(f.message for f in found)

    def as_json(self, *, areas: tuple[Area, ...] = ("pipeline", "data_quality")) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "pipeline" in areas:
            out["pipeline"] = {"status": self.pipeline, "summary": self.summary("pipeline")}
        if "data_quality" in areas:
            out["data_quality"] = {"status": self.data_quality,
                                   "summary": self.summary("data_quality")}
        out["findings"] = [f.as_json() for f in self.findings if f.area in areas]
        return out


def duration_words(seconds: float) -> str:
    """45 s, 16 min, 3 h, 2 days: for messages people read."""
    s = round(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def _pct(value: float) -> str:
    return f"{value:.1f} %"


def _clears_in(s: HealthSignals) -> float | None:
    """Seconds until the backlog clears at the current drain rate (None: not draining)."""
    if s.pending == 0:
        return 0.0
    if s.drain_rate_per_s <= 0:
        return None
    return s.pending / s.drain_rate_per_s


def _draining(s: HealthSignals, t: HealthThresholds) -> str | None:
    """The drain in words when it clears the backlog in time; None when it does not."""
    eta = _clears_in(s)
    if eta is None or eta > t.max_oldest_pending_seconds or s.live_workers == 0:
        return None
    return (f"workers finish {s.drain_rate_per_s:.1f} jobs/s, so the backlog clears "
            f"in about {duration_words(eta)}")


def _pending(s: HealthSignals, t: HealthThresholds) -> Finding:
    base = f"{s.pending} jobs are pending (limit {t.max_pending})"
    if s.pending < t.max_pending:
        return Finding("pending", "pipeline", "ok", s.pending, t.max_pending, base + ".")
    drain = _draining(s, t)
    if drain is not None:
        return Finding("pending", "pipeline", "warn", s.pending, t.max_pending,
                       f"{base}, but {drain}.")
    old = (s.oldest_pending_seconds or 0.0) > t.max_oldest_pending_seconds
    rate = ("no job finished in the last 5 min" if s.drain_rate_per_s <= 0 else
            f"workers finish only {s.drain_rate_per_s:.1f} jobs/s")
    return Finding("pending", "pipeline", "critical" if old else "warn", s.pending,
                   t.max_pending, f"{base} and {rate}.")


def _oldest(s: HealthSignals, t: HealthThresholds) -> Finding:
    limit = t.max_oldest_pending_seconds
    age = s.oldest_pending_seconds
    if age is None:
        return Finding("oldest_pending", "pipeline", "ok", None, limit,
                       "No runnable job is waiting.")
    base = f"The oldest runnable job has waited {duration_words(age)} (limit {duration_words(limit)})"
    if age <= limit:
        return Finding("oldest_pending", "pipeline", "ok", round(age, 1), limit, base + ".")
    drain = _draining(s, t)
    if drain is not None:
        return Finding("oldest_pending", "pipeline", "warn", round(age, 1), limit,
                       f"{base}, but {drain}.")
    return Finding("oldest_pending", "pipeline", "critical", round(age, 1), limit,
                   f"{base}: jobs are not being processed fast enough.")


def _failed_rate(s: HealthSignals, t: HealthThresholds) -> Finding:
    rate = s.failed_rate_pct
    if rate is None:
        return Finding("failed_rate", "pipeline", "ok", None, t.max_failed_rate_pct,
                       "No job finished in the window.")
    base = (f"{_pct(rate)} of finished jobs failed for good "
            f"(limit {_pct(t.max_failed_rate_pct)})")
    status: Status = ("critical" if rate > t.critical_failed_rate_pct else
                      "warn" if rate > t.max_failed_rate_pct else "ok")
    return Finding("failed_rate", "pipeline", status, round(rate, 2), t.max_failed_rate_pct,
                   base + ("." if status == "ok" else "; see the failed jobs list."))


def _webhook_success(s: HealthSignals, t: HealthThresholds) -> Finding:
    rate = s.webhook_success_pct
    if rate is None:
        return Finding("webhook_success", "pipeline", "ok", None, t.min_webhook_success_pct,
                       "No delivery finished processing in the window.")
    base = (f"{_pct(rate)} of processed deliveries succeeded "
            f"(minimum {_pct(t.min_webhook_success_pct)})")
    status: Status = ("critical" if rate < t.critical_webhook_success_pct else
                      "warn" if rate < t.min_webhook_success_pct else "ok")
    return Finding("webhook_success", "pipeline", status, round(rate, 2),
                   t.min_webhook_success_pct,
                   base + ("." if status == "ok" else "; see the deliveries list."))


def _workers(s: HealthSignals) -> Finding:
    if s.live_workers > 0:
        return Finding("live_workers", "pipeline", "ok", s.live_workers, 1,
                       f"{s.live_workers} worker(s) alive.")
    if s.pending > 0:
        return Finding("live_workers", "pipeline", "critical", 0, 1,
                       f"No worker is alive but {s.pending} jobs are pending: "
                       "nothing is being processed.")
    return Finding("live_workers", "pipeline", "warn", 0, 1,
                   "No worker is alive (nothing is waiting yet).")


def _leader(s: HealthSignals) -> Finding:
    if s.leader is not None:
        return Finding("leader", "pipeline", "ok", s.leader, None,
                       f"Scheduler leader: {s.leader}.")
    return Finding("leader", "pipeline", "warn", None, None,
                   "No scheduler leader: stalled-job rescue, rollups and retention are "
                   "not running.")


def _excellent(s: HealthSignals, t: HealthThresholds) -> Finding:
    share = s.excellent_share_pct
    if share is None:
        return Finding("excellent_share", "data_quality", "ok", None,
                       t.min_excellent_share_pct, "No confidence score has been computed yet.")
    base = (f"{_pct(share)} of confidence scores are excellent "
            f"(target {_pct(t.min_excellent_share_pct)})")
    status: Status = ("critical" if share < t.poor_excellent_share_pct else
                      "warn" if share < t.min_excellent_share_pct else "ok")
    return Finding("excellent_share", "data_quality", status, round(share, 2),
                   t.min_excellent_share_pct, base + ".")


def judge_health(signals: HealthSignals, t: HealthThresholds) -> HealthReport:
    """Pure: the findings for each signal and the two verdicts they add up to."""
    findings = (_pending(signals, t), _oldest(signals, t), _failed_rate(signals, t),
                _webhook_success(signals, t), _workers(signals), _leader(signals),
                _excellent(signals, t))

    def worst(area: Area) -> Status:
        found = {f.status for f in findings if f.area == area}
        return "critical" if "critical" in found else "warn" if "warn" in found else "ok"

    pipeline: PipelineStatus = {"ok": "healthy", "warn": "degraded",
                                "critical": "critical"}[worst("pipeline")]  # type: ignore[assignment]
    quality: QualityStatus = {"ok": "healthy", "warn": "degraded",
                              "critical": "poor"}[worst("data_quality")]  # type: ignore[assignment]
    return HealthReport(pipeline, quality, findings)


# Sandbox (self-test) jobs and sources are left out; the rollups are written without them.
# Webhook success counts processed among processed + failed: an unmatched delivery waits
# for an account link (the deliveries page lists it) and is not a pipeline fault.
MEASURE = """
WITH queue AS (
    -- the exact counters (migration 0710), and the first entry of the pending run_at index
    SELECT (SELECT coalesce(sum(p.pending), 0) FROM job_pending_by_day p)::bigint AS pending,
           extract(epoch FROM now() - (
               SELECT min(b.run_at) FROM background_jobs b
               WHERE b.status = 'pending' AND NOT b.is_sandbox AND b.run_at <= now()))::float8
               AS oldest
), jobs AS (
    SELECT coalesce(sum(j.completed) FILTER (WHERE j.bucket >= now() - %(window)s), 0)
               AS completed,
           coalesce(sum(j.failed) FILTER (WHERE j.bucket >= now() - %(window)s), 0) AS failed,
           coalesce(sum(j.completed + j.failed)
                    FILTER (WHERE j.bucket >= now() - %(drain)s), 0) AS drained,
           extract(epoch FROM now() - min(j.bucket) FILTER (WHERE j.bucket >= now() - %(drain)s)
                   )::float8 AS drain_span
    FROM job_stats_minute j
    WHERE j.bucket >= now() - greatest(%(window)s, %(drain)s)
), hooks AS (
    SELECT coalesce(sum(m.processed), 0) AS processed, coalesce(sum(m.failed), 0) AS failed
    FROM webhook_stats_minute m
    JOIN webhook_sources s ON s.source_id = m.source_id AND NOT s.is_sandbox
    WHERE m.bucket >= now() - %(window)s
), alive AS (
    SELECT count(*)::int AS live, max(k.worker_id) FILTER (WHERE k.is_leader) AS leader
    FROM workers k
    WHERE k.last_seen_at > now() - make_interval(secs => 3 * k.heartbeat_seconds)
), quality AS (
    SELECT 100.0 * sum(c.excellent) / nullif(sum(c.user_metrics), 0) AS share
    FROM confidence_current_stats c WHERE %(trainer_id)s::bigint IS NULL
    UNION ALL
    SELECT 100.0 * sum(c.excellent) / nullif(sum(c.user_metrics), 0)
    FROM trainer_confidence_stats(%(trainer_id)s) c WHERE %(trainer_id)s::bigint IS NOT NULL
)
SELECT queue.pending, queue.oldest,
       jobs.drained::float8 / greatest(jobs.drain_span, 60.0) AS drain_rate,
       (100.0 * jobs.failed / nullif(jobs.completed + jobs.failed, 0))::float8 AS failed_rate,
       (100.0 * hooks.processed / nullif(hooks.processed + hooks.failed, 0))::float8
           AS webhook_success,
       alive.live, alive.leader,
       (SELECT q.share FROM quality q WHERE q.share IS NOT NULL LIMIT 1)::float8 AS excellent
FROM queue, jobs, hooks, alive
"""


async def measure_health_signals(conn: Conn, *, window_seconds: int = 3600,
                                 trainer_id: int | None = None) -> HealthSignals:
    """One query. `trainer_id` limits the excellent share to that trainer's clients."""
    from datetime import timedelta

    row = await (await conn.execute(MEASURE, {
        "window": timedelta(seconds=window_seconds),
        "drain": timedelta(seconds=DRAIN_WINDOW_SECONDS), "trainer_id": trainer_id,
    })).fetchone()
    assert row is not None
    return HealthSignals(
        pending=int(row["pending"]), oldest_pending_seconds=row["oldest"],
        drain_rate_per_s=float(row["drain_rate"] or 0.0),
        failed_rate_pct=row["failed_rate"], webhook_success_pct=row["webhook_success"],
        live_workers=int(row["live"]), leader=row["leader"],
        excellent_share_pct=row["excellent"])
