"""Metrics API: per-metric summaries, resolved series, manual entry, source priorities.

Clients see themselves, trainers their clients, admins everyone; anyone else's data is a
404 (ensure_can_see_user), never a 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.principal import CurrentUser, ensure_can_see_user
from vitaltrust.db import Conn
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn
from vitaltrust.metrics.catalog import get_spec
from vitaltrust.metrics.priorities import PriorityError, get_priority, set_priority
from vitaltrust.metrics.read import metric_summaries, sample_series
from vitaltrust.metrics.store import enqueue_recalculations, store_samples
from vitaltrust.metrics.types import RawSample

router = APIRouter(tags=["metrics"])

INCLUDES = frozenset({"conflicts", "flags"})
MAX_DAYS = 90
SELECT_MANUAL_SOURCE = "SELECT source_id FROM webhook_sources WHERE name = 'manual'"
SELECT_IS_SANDBOX = "SELECT is_sandbox FROM users WHERE user_id = %s"
SELECT_STORED = """
SELECT metric, value, original_value, original_unit, measured_at, local_date, flags
FROM metric_samples
WHERE user_id = %s AND metric = %s AND source_id = %s AND measured_at = %s
  AND device_type = 'manual' AND device_model IS NULL
"""


class ManualSample(BaseModel):
    metric: str = Field(examples=["weight"])
    value: float = Field(examples=[80.2])
    unit: str | None = Field(default=None, examples=["kg"],
                             description="Defaults to the metric's canonical unit.")
    measured_at: datetime | None = Field(
        default=None, description="With a UTC offset; defaults to now.")
    utc_offset_seconds: int | None = Field(
        default=None, description="Local offset, when measured_at is given without one.")


class PriorityUpdate(BaseModel):
    priority: list[str] | None = Field(
        description="Device types, highest first; null or [] restores the metric's default.",
        examples=[["scale", "manual", "watch"]])


async def _is_sandbox(conn: Conn, user_id: int) -> bool:
    row = await (await conn.execute(SELECT_IS_SANDBOX, (user_id,))).fetchone()
    return bool(row and row["is_sandbox"])


async def _summaries(conn: Conn, user_id: int, sparkline: int) -> dict[str, Any]:
    return {"user_id": user_id,
            "metrics": await metric_summaries(conn, user_id, sparkline_days=sparkline)}


@router.get("/api/me/metrics")
async def my_metrics(conn: DbConn, principal: CurrentUser,
                     sparkline: Annotated[int, Query(ge=0, le=30)] = 0) -> dict[str, Any]:
    """Each of my metrics: latest value, confidence score and level, top reasons."""
    return await _summaries(conn, principal.user_id, sparkline)


@router.get("/api/users/{user_id}/metrics")
async def user_metrics(user_id: int, conn: DbConn, principal: CurrentUser,
                       sparkline: Annotated[int, Query(
                           ge=0, le=30, description="Days of daily values to include.")] = 0,
                       ) -> dict[str, Any]:
    """A user's metrics with their cached confidence (and a daily sparkline on request)."""
    await ensure_can_see_user(conn, principal, user_id)
    return await _summaries(conn, user_id, sparkline)


@router.get("/api/users/{user_id}/metrics/{metric}/samples")
async def user_samples(user_id: int, metric: str, conn: DbConn, principal: CurrentUser,
                       days: Annotated[int, Query(ge=1, le=MAX_DAYS,
                                                  description="Days back from now.")] = 30,
                       include: Annotated[str, Query(
                           description="Comma-separated: conflicts, flags.")] = "",
                       ) -> dict[str, Any]:
    """The resolved series (conflict losers and implausible values left out)."""
    await ensure_can_see_user(conn, principal, user_id)
    spec = await get_spec(conn, metric)
    wanted = frozenset(p.strip() for p in include.split(",") if p.strip())
    if wanted - INCLUDES:
        raise Problem(422, f"include accepts {', '.join(sorted(INCLUDES))}, "
                           f"not {', '.join(sorted(wanted - INCLUDES))}")
    series = await sample_series(conn, user_id, metric, now=datetime.now(UTC), days=days,
                                 include=wanted)
    return {"user_id": user_id, "metric": metric, "display_name": spec.display_name,
            "unit": spec.canonical_unit, "days": days, **series}


@router.post("/api/me/samples", status_code=201)
async def add_manual_sample(body: ManualSample, conn: DbConn, principal: CurrentUser
                            ) -> dict[str, Any]:
    """Record a manual entry (source 'manual'); its confidence is recalculated in the queue."""
    source = await (await conn.execute(SELECT_MANUAL_SOURCE)).fetchone()
    if source is None:
        raise Problem(503, "The built-in 'manual' source is missing; run `vitaltrust migrate`.")
    measured_at = body.measured_at or datetime.now(UTC)
    raw = RawSample(external_user_id=str(principal.user_id), metric=body.metric,
                    value=body.value, unit=body.unit, measured_at=measured_at,
                    utc_offset_seconds=body.utc_offset_seconds, device_type="manual")
    result = await store_samples(conn, user_id=principal.user_id, source_id=source["source_id"],
                                 webhook_event_id=None, samples=[raw],
                                 is_sandbox=await _is_sandbox(conn, principal.user_id))
    if result.rejections:
        raise Problem(422, result.rejections[0].reason, title="Sample rejected")
    if measured_at.tzinfo is None:  # accepted only with utc_offset_seconds
        measured_at = measured_at.replace(
            tzinfo=timezone(timedelta(seconds=body.utc_offset_seconds or 0)))
    row = await (await conn.execute(SELECT_STORED, (
        principal.user_id, body.metric, source["source_id"], measured_at))).fetchone()
    assert row is not None
    return {"user_id": principal.user_id, "metric": row["metric"], "value": row["value"],
            "original_value": row["original_value"], "original_unit": row["original_unit"],
            "measured_at": row["measured_at"].isoformat(),
            "local_date": row["local_date"].isoformat(), "flags": list(row["flags"]),
            "source": "manual", "device_type": "manual"}


@router.get("/api/users/{user_id}/metrics/{metric}/priority")
async def get_source_priority(user_id: int, metric: str, conn: DbConn, principal: CurrentUser
                              ) -> dict[str, Any]:
    """The device-type order that wins conflicts for this user and metric."""
    await ensure_can_see_user(conn, principal, user_id)
    spec = await get_spec(conn, metric)
    return {"user_id": user_id, **vars(await get_priority(conn, user_id, spec))}


@router.put("/api/users/{user_id}/metrics/{metric}/priority")
async def put_source_priority(user_id: int, metric: str, body: PriorityUpdate, conn: DbConn,
                              principal: CurrentUser) -> dict[str, Any]:
    """Override (or reset) the source priority; the confidence is recalculated."""
    await ensure_can_see_user(conn, principal, user_id)
    spec = await get_spec(conn, metric)
    before = await get_priority(conn, user_id, spec)
    try:
        after = await set_priority(conn, user_id, spec, body.priority,
                                   updated_by=principal.user_id)
    except PriorityError as exc:
        raise Problem(422, str(exc)) from exc
    await record_audit(conn, principal, "metrics.priority.update", f"user:{user_id}/{metric}",
                       {"before": before.priority if before.overridden else None,
                        "after": after.priority if after.overridden else None}, "ok")
    await enqueue_recalculations(conn, user_id, [metric],
                                 is_sandbox=await _is_sandbox(conn, user_id))
    return {"user_id": user_id, **vars(after)}
