"""The troubleshooting list as pure judges: measured values in, a verdict with its fix out.

No I/O here; `doctor.py` measures and calls these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from vitaltrust.monitoring.health import (
    Finding,
    HealthReport,
    HealthSignals,
    HealthThresholds,
    duration_words,
)

Status = Literal["pass", "warn", "fail", "skip"]
SEVERITY: dict[Status, int] = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}

LOGS_CMD = "vitaltrust logs --function job-worker --level error --since 1h"


@dataclass(frozen=True)
class Thresholds:
    """Limits the doctor judges against (all are `vitaltrust doctor` options)."""

    max_pending: int = 100  # the dashboard's "pending < 100"
    max_pending_age_seconds: float = 300.0  # oldest runnable job waiting longer: not processing
    min_webhook_success_pct: float = 95.0  # the dashboard's "webhook success > 95 %"
    lease_grace_seconds: float = 120.0  # the scheduler rescues expired leases well within this

    def health(self) -> HealthThresholds:
        """The same limits for the health function (the others keep its defaults)."""
        return HealthThresholds(max_pending=self.max_pending,
                                max_oldest_pending_seconds=self.max_pending_age_seconds,
                                min_webhook_success_pct=self.min_webhook_success_pct)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    value: str
    fix: str = ""
    details: Sequence[str] = ()
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["details"] = list(self.details)
        return out


@dataclass(frozen=True)
class FailedType:
    job_type: str
    failed: int
    latest_errors: Sequence[str]


def overall(checks: Sequence[Check]) -> Status:
    worst = max((SEVERITY[c.status] for c in checks), default=0)
    return "fail" if worst == 2 else "warn" if worst == 1 else "pass"


def judge_database(error: str | None, pending: Sequence[str], unknown: Sequence[str]) -> Check:
    name = "database reachable, migrations current"
    if error is not None:
        return Check(name, "fail", f"unreachable: {error}",
                     "check DATABASE_URL and that PostgreSQL is running: psql \"$(vitaltrust db url)\"")
    if pending:
        return Check(name, "fail", f"{len(pending)} migration(s) pending: {', '.join(pending)}",
                     "vitaltrust migrate", data={"pending": list(pending)})
    if unknown:
        return Check(name, "warn", f"database has migrations this version lacks: {', '.join(unknown)}",
                     "upgrade vitaltrust on this host", data={"unknown": list(unknown)})
    return Check(name, "pass", "reachable; schema current")


FINDING_STATUS: dict[str, Status] = {"ok": "pass", "warn": "warn", "critical": "fail"}


def _worst(findings: Sequence[Finding]) -> Status:
    return max((FINDING_STATUS[f.status] for f in findings), key=SEVERITY.__getitem__,
               default="pass")


def judge_worker_alive(report: HealthReport, live_workers: int, pending: int) -> Check:
    """From the health function's `live_workers` finding (no worker + pending work: fail)."""
    name = "a worker is alive"
    [f] = [f for f in report.findings if f.key == "live_workers"]
    data = {"live_workers": live_workers, "pending": pending, "pipeline_health": report.pipeline}
    if live_workers > 0:
        return Check(name, "pass", f"{live_workers} live worker(s)", data=data)
    fix = "start one: vitaltrust worker (or vitaltrust serve); then " + LOGS_CMD
    if f.status == "critical":
        return Check(name, "fail", f"no live worker, {pending} job(s) pending", fix, data=data)
    return Check(name, "warn", "no live worker (nothing is waiting yet)", fix, data=data)


def judge_leader(leader: str | None, live_workers: int) -> Check:
    name = "a scheduler leader exists"
    if leader is not None:
        return Check(name, "pass", f"leader: {leader}", data={"leader": leader})
    fix = ("start a worker: vitaltrust worker" if live_workers == 0 else
           "workers are alive but none leads: look for scheduler errors with " + LOGS_CMD)
    return Check(name, "warn", "no scheduler leader: no stalled-job rescue, rollups or refresh",
                 fix, data={"leader": None})


def judge_backlog(report: HealthReport, signals: HealthSignals) -> Check:
    """The health function's `pending` and `oldest_pending` findings: a backlog the workers
    drain in time is a warning; one that is old and not draining fails."""
    name = "pending jobs under thresholds"
    found = [f for f in report.findings if f.key in ("pending", "oldest_pending")]
    status = _worst(found)
    data = {"pending": signals.pending, "oldest_wait_seconds": signals.oldest_pending_seconds,
            "drain_rate_per_s": signals.drain_rate_per_s,
            "max_pending": found[0].threshold, "max_pending_age_seconds": found[1].threshold}
    value = " ".join(f.message for f in found)
    fix = {"pass": "",
           "warn": "add capacity if it persists: vitaltrust worker --concurrency N",
           "fail": "jobs are not being processed: see the worker check; then " + LOGS_CMD}
    return Check(name, status, value, fix.get(status, ""), data=data)


def judge_pipeline(report: HealthReport) -> Check:
    """The verdict the dashboard, /api/admin/monitoring and /readyz show."""
    name = "pipeline health (last hour)"
    verdicts: dict[str, Status] = {"healthy": "pass", "degraded": "warn", "critical": "fail"}
    status = verdicts[report.pipeline]
    return Check(name, status, f"{report.pipeline}: {report.summary('pipeline')}",
                 "" if status == "pass" else "open /admin, or see the checks above",
                 data=report.as_json())


def judge_failed_jobs(by_type: Sequence[FailedType]) -> Check:
    name = "failed jobs"
    total = sum(f.failed for f in by_type)
    data = {"by_type": [asdict(f) | {"latest_errors": list(f.latest_errors)} for f in by_type]}
    if total == 0:
        return Check(name, "pass", "none", data=data)
    details = [f"{f.job_type}: {f.failed} failed; latest: " + " | ".join(f.latest_errors)
               for f in by_type]
    return Check(name, "warn", ", ".join(f"{f.job_type} {f.failed}" for f in by_type),
                 "read the errors: vitaltrust logs --function job-worker --level error; "
                 "after fixing the cause: vitaltrust jobs retry-failed [--type TYPE]",
                 details, data)


def judge_confidence_cache(stale: int, missing: int, examples: Sequence[str]) -> Check:
    name = "confidence cache no older than its samples"
    data = {"stale": stale, "missing": missing, "examples": list(examples)}
    if stale == 0 and missing == 0:
        return Check(name, "pass", "every (user, metric) with samples is current or queued", data=data)
    return Check(name, "fail", f"{stale} stale, {missing} missing, with no job queued to fix them",
                 "vitaltrust confidence recalculate-all; if it recurs: " + LOGS_CMD,
                 [f"e.g. {e}" for e in examples], data)


def judge_webhooks(received: int, processed: int, failed: int, unmatched: int, rejected: int,
                   t: Thresholds) -> Check:
    """Success as the health function counts it: processed among processed + failed (an
    unmatched delivery waits for an account link; it is counted beside, not against)."""
    name = "webhook success rate (24 h)"
    handled = processed + failed
    rate = None if handled == 0 else 100.0 * processed / handled
    data = {"received": received, "processed": processed, "failed": failed, "unmatched": unmatched,
            "rejected": rejected, "success_pct": rate, "min_success_pct": t.min_webhook_success_pct}
    extra = f"({received} received, {failed} failed, {unmatched} unmatched, {rejected} rejected)"
    if rate is None:
        return Check(name, "pass", f"no processed deliveries {extra}", data=data)
    value = f"{rate:.1f}% {extra}"
    if rate < t.min_webhook_success_pct:
        return Check(name, "warn", f"{value}, below {t.min_webhook_success_pct:g}%",
                     "vitaltrust logs --function webhook-ingest --level warning --since 24h; "
                     "psql: SELECT * FROM webhook_processing_stats ORDER BY date DESC", data=data)
    return Check(name, "pass", value, data=data)


def judge_stalled_leases(stalled: int, oldest_expired_seconds: float | None, t: Thresholds) -> Check:
    name = "no stalled leases"
    data = {"stalled": stalled, "oldest_expired_seconds": oldest_expired_seconds,
            "lease_grace_seconds": t.lease_grace_seconds}
    if stalled == 0 or oldest_expired_seconds is None:
        return Check(name, "pass", "none", data=data)
    value = (f"{stalled} processing job(s) past their lease, "
             f"oldest by {duration_words(oldest_expired_seconds)}")
    if oldest_expired_seconds > t.lease_grace_seconds:
        return Check(name, "fail", value,
                     "no scheduler leader is rescuing them: see the leader check; "
                     "start or restart a worker (vitaltrust worker)", data=data)
    return Check(name, "warn", value + " (the scheduler should rescue them shortly)", data=data)


def judge_admin(admins: int) -> Check:
    name = "an admin user exists"
    if admins > 0:
        return Check(name, "pass", f"{admins} active admin(s)", data={"admins": admins})
    return Check(name, "fail", "no active admin: nobody can open the dashboard",
                 "vitaltrust users create --email you@example.com --role admin",
                 data={"admins": admins})


def skipped(names: Sequence[str], reason: str) -> list[Check]:
    return [Check(n, "skip", reason) for n in names]
