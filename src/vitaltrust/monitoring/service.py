"""Monitoring operations on an open connection: dashboard data, views, retry, recalculation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from vitaltrust.auth.principal import Principal
from vitaltrust.db import Conn
from vitaltrust.errors import Problem
from vitaltrust.monitoring import queries
from vitaltrust.monitoring.health import HealthThresholds, judge_health, measure_health_signals

# Bulk recalculation must not delay fresh data: larger priority values are claimed later.
BULK_PRIORITY = 10


def trainer_scope(principal: Principal) -> int | None:
    """Admins see every user's data quality; a trainer only their own clients'."""
    return None if principal.is_admin else principal.user_id


async def dashboard_data(conn: Conn, trainer_id: int | None) -> dict[str, Any]:
    row = await (await conn.execute(queries.DASHBOARD, {"trainer_id": trainer_id})).fetchone()
    assert row is not None
    data: dict[str, Any] = row["data"]
    return data


async def overview(conn: Conn, principal: Principal, t: HealthThresholds) -> dict[str, Any]:
    """The dashboard's cards with health from `judge_health` (the jsonb's own `system_health`
    is for psql users and is dropped here). A trainer gets their clients' confidence and data
    quality only: no queue, webhook or worker internals."""
    trainer_id = trainer_scope(principal)
    data = await dashboard_data(conn, trainer_id)
    data.pop("system_health", None)
    report = judge_health(await measure_health_signals(conn, trainer_id=trainer_id), t)
    if trainer_id is not None:
        return {"generated_at": data["generated_at"], "scope": "trainer",
                "confidence": data["confidence"],
                "health": report.as_json(areas=("data_quality",))}
    data["health"] = report.as_json()
    return data


def _jsonable(value: Any) -> Any:
    # numeric columns (rates, averages) are numbers in JSON, not strings
    return float(value) if isinstance(value, Decimal) else value


async def rows(conn: Conn, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    found = await (await conn.execute(query, params)).fetchall()
    return [{k: _jsonable(v) for k, v in r.items()} for r in found]


async def check_metric(conn: Conn, metric: str | None) -> None:
    if metric is None:
        return
    row = await (await conn.execute(queries.METRIC_EXISTS, (metric,))).fetchone()
    if not row or not row["present"]:
        raise Problem(422, f"Unknown metric {metric!r}.")


async def quality_trends(conn: Conn, trainer_id: int | None, metric: str | None
                         ) -> list[dict[str, Any]]:
    await check_metric(conn, metric)
    if trainer_id is None:
        return await rows(conn, queries.QUALITY_TRENDS, {"metric": metric})
    return await rows(conn, queries.TRAINER_QUALITY_TRENDS,
                      {"trainer_id": trainer_id, "metric": metric})


async def retry_failed(conn: Conn, job_type: str | None) -> int:
    row = await (await conn.execute(queries.RETRY_FAILED, {"job_type": job_type})).fetchone()
    return int(row["retried"]) if row and row["retried"] is not None else 0


@dataclass(frozen=True)
class Recalculation:
    scope: str       # all | user | trainer
    targets: int     # (user, metric) pairs in scope
    enqueued: int    # new jobs; the rest already had a pending job

    @property
    def already_pending(self) -> int:
        return self.targets - self.enqueued


async def recalculate(conn: Conn, *, scope: str, user_id: int | None = None,
                      trainer_id: int | None = None, metric: str | None = None) -> Recalculation:
    """Enqueue deduplicated confidence_calculation jobs in the caller's transaction."""
    await check_metric(conn, metric)
    row = await (await conn.execute(queries.RECALCULATE, {
        "scope": scope, "user_id": user_id, "trainer_id": trainer_id, "metric": metric,
        "priority": 0 if scope == "user" else BULK_PRIORITY,
    })).fetchone()
    assert row is not None
    result = Recalculation(scope, int(row["targets"]), int(row["enqueued"]))
    if result.enqueued:
        await conn.execute(queries.NOTIFY_JOBS)
    return result


async def refresh_confidence_snapshot(conn: Conn) -> int:
    """Snapshot today's confidence per metric (data_quality_trends' past days, /metrics)."""
    row = await (await conn.execute(queries.REFRESH_CONFIDENCE_SNAPSHOT)).fetchone()
    return int(row["metrics"]) if row else 0


async def rollup_monitoring_days(conn: Conn) -> int:
    """Fold complete days of minute statistics into the daily rollups; returns days folded."""
    row = await (await conn.execute(queries.ROLLUP_DAYS)).fetchone()
    return int(row["days"]) if row else 0
