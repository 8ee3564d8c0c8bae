"""The admin JSON API (data behind the /admin dashboard) and GET /metrics.

Admins read system health and internals; trainers read their own clients' confidence and
data quality only. State changes are admin-only, except that a trainer may
recalculate their own clients. Every manual action is audited. Documented in docs/api.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.auth.audit import record_audit, record_audit_detached
from vitaltrust.auth.principal import MAX_BIGINT, AdminUser, StaffUser, ensure_can_see_user
from vitaltrust.errors import Problem
from vitaltrust.http import AppSettings, DbConn, Pool
from vitaltrust.monitoring import queries, service
from vitaltrust.monitoring.health import HealthThresholds
from vitaltrust.monitoring.prometheus import metrics_response

router = APIRouter()
TAGS: list[str | Any] = ["monitoring"]
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"

MetricParam = Annotated[str | None, Query(pattern=NAME_PATTERN, description="Metric code.")]


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_type: str | None = Field(default=None, pattern=NAME_PATTERN,
                                 description="Only this job type; all types when omitted.")


class RetryResult(BaseModel):
    job_type: str | None
    retried: int


class RecalculateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: int | None = Field(default=None, ge=1, le=MAX_BIGINT,
                                description="One user; omitted: everyone in your reach.")
    metric: str | None = Field(default=None, pattern=NAME_PATTERN, description="One metric.")


class RecalculateResult(BaseModel):
    scope: str
    user_id: int | None
    metric: str | None
    targets: int
    enqueued: int
    already_pending: int


def _listing(rows: list[dict[str, Any]], window_days: int, **extra: Any) -> dict[str, Any]:
    return {"window_days": window_days, "generated_at": datetime.now(UTC), **extra,
            "rows": rows}


@router.get("/api/admin/monitoring", tags=TAGS)
async def monitoring(conn: DbConn, principal: StaffUser, settings: AppSettings
                     ) -> dict[str, Any]:
    """The dashboard's cards (`get_monitoring_dashboard_data()`) with `health` from the one
    health function. Trainers: their clients' confidence and data quality only."""
    return await service.overview(conn, principal, HealthThresholds.from_settings(settings))


@router.get("/api/admin/job-stats", tags=TAGS)
async def job_stats(conn: DbConn, principal: AdminUser,
                    job_type: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None
                    ) -> dict[str, Any]:
    """`job_processing_stats`: per day (7) and job type."""
    return _listing(await service.rows(conn, queries.JOB_STATS, {"job_type": job_type}), 7)


@router.get("/api/admin/function-performance", tags=TAGS)
async def function_performance(
        conn: DbConn, principal: AdminUser,
        function_name: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None
) -> dict[str, Any]:
    """`edge_function_performance`: per day (7) and function."""
    return _listing(await service.rows(conn, queries.FUNCTION_PERFORMANCE,
                                       {"function_name": function_name}), 7)


@router.get("/api/admin/webhook-stats", tags=TAGS)
async def webhook_stats(conn: DbConn, principal: AdminUser,
                        source: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None
                        ) -> dict[str, Any]:
    """`webhook_processing_stats`: per day (7) and source."""
    return _listing(await service.rows(conn, queries.WEBHOOK_STATS, {"source": source}), 7)


@router.get("/api/admin/quality-trends", tags=TAGS)
async def quality_trends(conn: DbConn, principal: StaffUser, metric: MetricParam = None
                         ) -> dict[str, Any]:
    """`data_quality_trends` (30 days); a trainer gets their own clients' numbers only."""
    trainer_id = service.trainer_scope(principal)
    found = await service.quality_trends(conn, trainer_id, metric)
    return _listing(found, 30, scope="all users" if trainer_id is None else "your clients")


@router.post("/api/admin/jobs/retry-failed", tags=TAGS)
async def retry_failed(conn: DbConn, principal: AdminUser, body: RetryRequest | None = None
                       ) -> RetryResult:
    """Requeue failed jobs (all, or one type) with fresh attempts; returns how many."""
    job_type = body.job_type if body else None
    retried = await service.retry_failed(conn, job_type)
    await record_audit(conn, principal, "jobs.retry_failed", job_type or "all job types",
                       {"job_type": job_type, "retried": retried}, "ok")
    return RetryResult(job_type=job_type, retried=retried)


@router.post("/api/admin/confidence/recalculate", tags=TAGS)
async def recalculate(conn: DbConn, pool: Pool, principal: StaffUser,
                      body: RecalculateRequest | None = None) -> RecalculateResult:
    """Enqueue confidence recalculation (deduplicated): one user, or all users in reach.

    Admins: everyone or any user. Trainers: their clients only (another user is a 404).
    """
    req = body or RecalculateRequest()
    target = f"user {req.user_id}" if req.user_id is not None else (
        "all users" if principal.is_admin else "all my clients")
    if req.user_id is not None:
        try:
            await ensure_can_see_user(conn, principal, req.user_id)
        except Problem:
            await record_audit_detached(pool, principal, "confidence.recalculate", target,
                                        {"user_id": req.user_id, "metric": req.metric}, "denied")
            raise
        result = await service.recalculate(conn, scope="user", user_id=req.user_id,
                                           metric=req.metric)
    elif principal.is_admin:
        result = await service.recalculate(conn, scope="all", metric=req.metric)
    else:
        result = await service.recalculate(conn, scope="trainer", trainer_id=principal.user_id,
                                           metric=req.metric)
    await record_audit(conn, principal, "confidence.recalculate", target,
                       {"user_id": req.user_id, "metric": req.metric, "targets": result.targets,
                        "enqueued": result.enqueued}, "ok")
    return RecalculateResult(scope=result.scope, user_id=req.user_id, metric=req.metric,
                             targets=result.targets, enqueued=result.enqueued,
                             already_pending=result.already_pending)


@router.get("/metrics", tags=["system"], response_class=Response)
async def metrics(request: Request, conn: DbConn, settings: AppSettings) -> Response:
    """Prometheus text format. Bearer `VITALTRUST_METRICS_TOKEN`, or an admin."""
    return await metrics_response(request, conn, settings)
