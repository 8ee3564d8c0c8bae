"""`GET /api/clients`: the caller's clients, each with a per-metric confidence summary.

Admins see every client, trainers their assigned clients, a client only themselves.
One set-based query reads metric_confidence_cache for every visible (client, metric)
pair, including its `daily_series` (the last resolved value of each local day over the
30-day window, written by the confidence job), so a sparkline costs no scan of samples.
PostgreSQL also filters, orders and renders the JSON: a trainer with 200 clients x 6
metrics is ~1 MB of JSON that Python passes through without parsing it.
The trainer view (/clients) renders from this alone.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from vitaltrust.auth.principal import CurrentUser, Principal
from vitaltrust.db import Conn, contains_pattern
from vitaltrust.http import DbConn

router = APIRouter(tags=["clients"])

Level = Literal["excellent", "good", "fair", "poor", "insufficient"]
Sort = Literal["worst", "best", "name", "stale"]
MAX_LIMIT = 500

# Worst first: the row's worst cell by level (poor, insufficient, no data at all, fair,
# good, excellent), then by score; then e-mail for a stable order.
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
), cells AS (
    SELECT c.user_id, c.metric, c.level, c.score, c.last_sample_at,
           CASE c.level WHEN 'poor' THEN 0 WHEN 'insufficient' THEN 1 WHEN 'fair' THEN 3
                        WHEN 'good' THEN 4 ELSE 5 END AS rank,
           json_build_object(
               'score', c.score, 'level', c.level, 'latest_value', c.latest_value,
               'unit', m.canonical_unit, 'last_sample_at', c.last_sample_at,
               'computed_at', c.computed_at, 'sample_count', c.sample_count,
               'sparkline', c.daily_series) AS cell
    FROM visible v
    JOIN metric_confidence_cache c ON c.user_id = v.user_id
    JOIN metric_catalog m ON m.metric = c.metric
), rows AS (
    SELECT v.user_id, v.email, v.display_name,
           coalesce(min(x.rank), 2) AS worst_rank,
           (array_agg(x.score ORDER BY x.rank, x.score))[1] AS worst_score,
           max(x.last_sample_at) AS last_sample_at,
           coalesce(json_object_agg(x.metric, x.cell) FILTER (WHERE x.metric IS NOT NULL),
                    '{}'::json) AS metrics
    FROM visible v
    LEFT JOIN cells x ON x.user_id = v.user_id
    WHERE %(q)s::text IS NULL OR v.email ILIKE %(q)s::text OR v.display_name ILIKE %(q)s::text
    GROUP BY v.user_id, v.email, v.display_name
    HAVING (%(metric)s::text IS NULL OR bool_or(x.metric = %(metric)s::text))
       AND (%(level)s::text IS NULL OR bool_or(x.level = %(level)s::text
                                               AND x.metric = coalesce(%(metric)s::text, x.metric)))
), ordered AS (
    SELECT r.*, row_number() OVER (ORDER BY
        CASE WHEN %(sort)s = 'worst' THEN r.worst_rank END,
        CASE WHEN %(sort)s = 'worst' THEN r.worst_score END NULLS LAST,
        CASE WHEN %(sort)s = 'best' THEN r.worst_rank END DESC,
        CASE WHEN %(sort)s = 'best' THEN r.worst_score END DESC NULLS LAST,
        CASE WHEN %(sort)s = 'name' THEN lower(coalesce(r.display_name, r.email)) END,
        CASE WHEN %(sort)s = 'stale' THEN r.last_sample_at END NULLS FIRST,
        r.email, r.user_id) AS pos
    FROM rows r
)
SELECT json_build_object(
    'generated_at', now(),
    'total_clients', (SELECT count(*) FROM visible),
    'metrics', (SELECT coalesce(json_agg(json_build_object(
                    'metric', m.metric, 'display_name', m.display_name, 'unit', m.canonical_unit)
                    ORDER BY m.sort_order), '[]'::json)
                FROM metric_catalog m WHERE m.metric IN (SELECT metric FROM cells)),
    'matched', (SELECT count(*) FROM rows),
    'offset', %(offset)s::int,
    'limit', %(limit)s::int,
    'clients', (SELECT coalesce(json_agg(json_build_object(
                    'user_id', r.user_id, 'email', r.email, 'display_name', r.display_name,
                    'worst_rank', r.worst_rank, 'worst_score', r.worst_score,
                    'last_sample_at', r.last_sample_at, 'metrics', r.metrics)
                    ORDER BY r.pos), '[]'::json)
                FROM ordered r
                WHERE r.pos > %(offset)s::int
                  AND (%(limit)s::int IS NULL OR r.pos <= %(offset)s::int + %(limit)s::int))
)::text AS body
"""


async def client_summaries_json(conn: Conn, principal: Principal, *, metric: str | None = None,
                                level: str | None = None, q: str | None = None,
                                sort: str = "worst", limit: int | None = None,
                                offset: int = 0) -> str:
    """The response body of GET /api/clients, as JSON text."""
    row = await (await conn.execute(CLIENT_SUMMARIES, {
        "role": principal.role, "actor": principal.user_id, "metric": metric, "level": level,
        "q": contains_pattern(q.strip()) if q and q.strip() else None, "sort": sort,
        "limit": limit, "offset": offset,
    })).fetchone()
    assert row is not None
    body: str = row["body"]
    return body


@router.get("/api/clients", summary="The caller's clients with per-metric confidence",
            response_class=Response, responses={200: {"content": {"application/json": {}}}})
async def get_clients(
    conn: DbConn, principal: CurrentUser,
    metric: str | None = Query(default=None, pattern=r"^[a-z][a-z0-9_]{0,40}$",
                               description="only clients with this metric"),
    level: Level | None = Query(default=None,
                                description="only clients with this level (for `metric`, or any)"),
    q: str | None = Query(default=None, max_length=100,
                          description="only clients whose name or e-mail contains this text"),
    sort: Sort = Query(default="worst", description="worst (default), best, name or stale "
                                                    "(longest without data first)"),
    limit: int | None = Query(default=None, ge=1, le=MAX_LIMIT,
                              description="at most this many clients (default: all)"),
    offset: int = Query(default=0, ge=0, le=1_000_000,
                        description="skip this many clients of the order (page links)"),
) -> Response:
    """`{generated_at, total_clients, metrics: [{metric, display_name, unit}], clients:
    [{user_id, email, display_name, worst_rank, worst_score, last_sample_at, metrics:
    {code: {score, level, latest_value, unit, last_sample_at, computed_at, sample_count,
    sparkline}}}]}`, worst first: the row's worst level (poor, insufficient, no data,
    fair, good, excellent), then its lowest score. `sparkline` is `[[local_date, value],
    ...]`: the last resolved value of each day in the 30-day confidence window.
    `matched` counts the clients that pass the filters and search; `clients` is the page
    `offset` .. `offset + limit` of them (offset pagination: the order can be any of four)."""
    body = await client_summaries_json(conn, principal, metric=metric, level=level, q=q,
                                       sort=sort, limit=limit, offset=offset)
    return Response(body, media_type="application/json")
