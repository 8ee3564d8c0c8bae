"""`GET /api/clients`: the caller's clients, each with a per-metric confidence summary.

Admins see every client, trainers their assigned clients, a client only themselves.
One set-based query reads metric_confidence_cache for every visible (client, metric)
pair, including its `daily_series` (the last resolved value of each local day over the
30-day window, written by the confidence job): the sparkline costs no scan of samples.
The trainer view (/clients) renders from this alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query

from vitaltrust.auth.principal import CurrentUser, Principal
from vitaltrust.db import Conn
from vitaltrust.http import DbConn

router = APIRouter(tags=["clients"])

# Worst first: the order in which a coach should look at rows.
LEVEL_RANK = {"poor": 0, "insufficient": 1, "fair": 3, "good": 4, "excellent": 5}
NO_DATA_RANK = 2
Level = Literal["excellent", "good", "fair", "poor", "insufficient"]

CLIENT_SUMMARIES = """
WITH visible AS (
    SELECT u.user_id, u.email, u.display_name
    FROM users u
    WHERE u.role = 'client' AND u.disabled_at IS NULL AND NOT u.is_sandbox
      AND (%(role)s = 'admin'
           OR u.user_id = %(actor)s
           OR (%(role)s = 'trainer' AND EXISTS (
                 SELECT 1 FROM trainer_clients tc
                 WHERE tc.trainer_id = %(actor)s AND tc.client_id = u.user_id)))
)
SELECT v.user_id, v.email, v.display_name,
       c.metric, mc.display_name AS metric_name, mc.canonical_unit AS unit, mc.sort_order,
       c.score::float8 AS score, c.level, c.latest_value, c.last_sample_at, c.computed_at,
       c.sample_count, c.daily_series
FROM visible v
LEFT JOIN metric_confidence_cache c ON c.user_id = v.user_id
LEFT JOIN metric_catalog mc ON mc.metric = c.metric
ORDER BY v.user_id, mc.sort_order
"""


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _rank(metrics: dict[str, dict[str, Any]]) -> tuple[int, float]:
    if not metrics:
        return (NO_DATA_RANK, 101.0)
    worst = min(metrics.values(), key=lambda m: (LEVEL_RANK.get(m["level"], 9), m["score"]))
    return (LEVEL_RANK.get(worst["level"], 9), float(worst["score"]))


def _matches(client: dict[str, Any], metric: str | None, level: str | None) -> bool:
    cells = client["metrics"]
    if metric is not None and metric not in cells:
        return False
    if level is None:
        return True
    chosen = [cells[metric]] if metric is not None else list(cells.values())
    return any(cell["level"] == level for cell in chosen)


async def list_client_summaries(conn: Conn, principal: Principal, *, metric: str | None = None,
                                level: str | None = None, now: datetime | None = None
                                ) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    cur = await conn.execute(CLIENT_SUMMARIES, {"role": principal.role,
                                                 "actor": principal.user_id})
    clients: dict[int, dict[str, Any]] = {}
    catalog: dict[str, dict[str, Any]] = {}
    for row in await cur.fetchall():
        client = clients.setdefault(row["user_id"], {
            "user_id": row["user_id"], "email": row["email"],
            "display_name": row["display_name"], "metrics": {}, "last_sample_at": None})
        code = row["metric"]
        if code is None:
            continue
        catalog.setdefault(code, {"metric": code, "display_name": row["metric_name"],
                                  "unit": row["unit"], "sort_order": row["sort_order"]})
        client["metrics"][code] = {
            "score": row["score"], "level": row["level"], "latest_value": row["latest_value"],
            "unit": row["unit"], "last_sample_at": _iso(row["last_sample_at"]),
            "computed_at": _iso(row["computed_at"]), "sample_count": row["sample_count"],
            "sparkline": row["daily_series"],  # [[local_date, value], ...]
        }
        last = row["last_sample_at"]
        if last is not None and (client["last_sample_at"] is None or last > client["last_sample_at"]):
            client["last_sample_at"] = last
    rows = []
    for client in clients.values():
        rank, worst_score = _rank(client["metrics"])
        client["worst_rank"] = rank
        client["worst_score"] = worst_score if client["metrics"] else None
        client["last_sample_at"] = _iso(client["last_sample_at"])
        if _matches(client, metric, level):
            rows.append(client)
    rows.sort(key=lambda c: (c["worst_rank"], c["worst_score"] if c["worst_score"] is not None
                             else 101.0, c["email"]))
    metrics = sorted(catalog.values(), key=lambda m: m["sort_order"])
    return {"generated_at": now.isoformat(), "total_clients": len(clients),
            "metrics": metrics, "clients": rows}


@router.get("/api/clients", summary="The caller's clients with per-metric confidence")
async def get_clients(
    conn: DbConn, principal: CurrentUser,
    metric: str | None = Query(default=None, pattern=r"^[a-z][a-z0-9_]{0,40}$",
                               description="only clients with this metric"),
    level: Level | None = Query(default=None,
                                description="only clients with this level (for `metric`, or any)"),
) -> dict[str, Any]:
    """Worst first: the row's worst level (poor, insufficient, no data, fair, good,
    excellent), then its lowest score. `sparkline` is `[[local_date, value], ...]`: the
    last resolved value of each day in the 30-day confidence window."""
    return await list_client_summaries(conn, principal, metric=metric, level=level)
