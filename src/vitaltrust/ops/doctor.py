"""`vitaltrust doctor`: measure each item of the troubleshooting list, then judge it.

The doctor only reads: its connection is read-only and never migrates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from vitaltrust.confidence.cache import AHEAD, LOOKBACK
from vitaltrust.confidence.types import WINDOW_DAYS
from vitaltrust.db import Conn
from vitaltrust.migrations import applied_versions, available
from vitaltrust.monitoring.health import HealthReport, judge_health, measure_health_signals
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
    judge_pipeline,
    judge_stalled_leases,
    judge_webhooks,
    judge_worker_alive,
    skipped,
)

# Per type: the count, and its latest distinct errors with how often each occurred.
FAILED_BY_TYPE = """
SELECT j.type AS job_type, count(*)::int AS failed,
       (SELECT array_agg(e.err || CASE WHEN e.n > 1 THEN ' (x' || e.n || ')' ELSE '' END
                         ORDER BY e.latest DESC NULLS LAST)
        FROM (SELECT coalesce(left(f.last_error, 300), '(no error recorded)') AS err, count(*) AS n,
                     max(f.failed_at) AS latest
              FROM background_jobs f
              WHERE f.status = 'failed' AND f.type = j.type
              GROUP BY 1 ORDER BY 3 DESC NULLS LAST LIMIT %(latest)s) e) AS latest_errors
FROM background_jobs j WHERE j.status = 'failed'
GROUP BY j.type ORDER BY count(*) DESC
"""
# A cache row is stale when the newest sample in the range its job reads (the scoring
# window and its look-back, relative to computed_at) was received after the newest input
# the row saw (data_version: that input's received_at in microseconds, + 1 ms for its float
# rounding; rows written without one, data_version 0, compare with computed_at). One index
# probe per row: a late-arriving OLDER measurement is not looked for (that would read every
# sample of the window). A (user, metric) with samples and no row is missing. Either is a
# fault only when no confidence job (pending or running) is on its way: matched by payload,
# because a requeued job may have lost its dedupe key.
CONFIDENCE_CACHE = """
WITH stale AS (
    SELECT c.user_id, c.metric, false AS missing
    FROM metric_confidence_cache c
    CROSS JOIN LATERAL (
        SELECT s.received_at FROM metric_samples s
        WHERE s.user_id = c.user_id AND s.metric = c.metric
          AND s.measured_at >= c.computed_at - %(behind)s AND s.measured_at <= c.computed_at + %(ahead)s
        ORDER BY s.measured_at DESC LIMIT 1) newest
    WHERE newest.received_at > CASE WHEN c.data_version > 0
                                    THEN to_timestamp((c.data_version + 1000) / 1e6)
                                    ELSE c.computed_at END
), missing AS (
    SELECT u.user_id, m.metric, true AS missing
    FROM users u CROSS JOIN metric_catalog m
    WHERE NOT EXISTS (SELECT 1 FROM metric_confidence_cache c
                      WHERE c.user_id = u.user_id AND c.metric = m.metric)
      AND EXISTS (SELECT 1 FROM metric_samples s WHERE s.user_id = u.user_id AND s.metric = m.metric)
), queued AS (
    SELECT DISTINCT j.payload ->> 'user_id' AS user_id, j.payload ->> 'metric' AS metric
    FROM background_jobs j
    WHERE j.type = 'confidence_calculation' AND j.status IN ('pending', 'processing')
), judged AS (
    SELECT f.* FROM (SELECT * FROM stale UNION ALL SELECT * FROM missing) f
    WHERE NOT EXISTS (SELECT 1 FROM queued q WHERE q.user_id = f.user_id::text AND q.metric = f.metric)
)
SELECT count(*) FILTER (WHERE NOT missing)::int AS stale,
       count(*) FILTER (WHERE missing)::int AS missing,
       (array_agg('user ' || user_id || ' ' || metric || CASE WHEN missing THEN ' (no cache row)'
                  ELSE ' (stale)' END ORDER BY user_id, metric))[1:3] AS examples
FROM judged
"""
WEBHOOKS_24H = """
SELECT coalesce(sum(w.received), 0)::bigint AS received,
       coalesce(sum(w.processed), 0)::bigint AS processed,
       coalesce(sum(w.failed), 0)::bigint AS failed,
       coalesce(sum(w.unmatched), 0)::bigint AS unmatched,
       coalesce(sum(w.rejected + w.rate_limited), 0)::bigint AS rejected
FROM webhook_stats_minute w JOIN webhook_sources s USING (source_id)
WHERE w.bucket >= now() - interval '24 hours' AND NOT s.is_sandbox
"""
STALLED_LEASES = """
SELECT count(*)::int AS stalled,
       extract(epoch FROM now() - min(locked_until))::float8 AS oldest_expired_seconds
FROM background_jobs WHERE status = 'processing' AND locked_until < now()
"""
ACTIVE_ADMINS = "SELECT count(*)::int AS admins FROM users WHERE role = 'admin' AND disabled_at IS NULL"

LATEST_ERRORS_PER_TYPE = 3
CHECK_NAMES = ("database reachable, migrations current", "a worker is alive",
               "a scheduler leader exists", "pending jobs under thresholds", "failed jobs",
               "confidence cache no older than its samples", "webhook success rate (24 h)",
               "no stalled leases", "an admin user exists", "pipeline health (last hour)")


async def _one(conn: Conn, query: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    row = await (await conn.execute(query, params)).fetchone()
    assert row is not None  # aggregate queries always return a row
    return row


async def check_database(conn: Conn) -> Check:
    done = await applied_versions(conn)
    known = {m.version for m in available()}
    return judge_database(None, [m.version for m in available() if m.version not in done],
                          sorted(set(done) - known))


async def check_health(conn: Conn, t: Thresholds, out: list[HealthReport]) -> list[Check]:
    """Workers, leader and backlog as the health function judges them (one query)."""
    signals = await measure_health_signals(conn)
    report = judge_health(signals, t.health())
    out.append(report)
    return [judge_worker_alive(report, signals.live_workers, signals.pending),
            judge_leader(signals.leader, signals.live_workers), judge_backlog(report, signals)]


async def check_failed(conn: Conn) -> Check:
    rows = await (await conn.execute(FAILED_BY_TYPE, {"latest": LATEST_ERRORS_PER_TYPE})).fetchall()
    return judge_failed_jobs([FailedType(r["job_type"], r["failed"], r["latest_errors"] or [])
                              for r in rows])


async def check_confidence(conn: Conn) -> Check:
    r = await _one(conn, CONFIDENCE_CACHE, {"behind": timedelta(days=WINDOW_DAYS) + LOOKBACK,
                                            "ahead": AHEAD})
    return judge_confidence_cache(r["stale"], r["missing"], r["examples"] or [])


async def check_webhooks(conn: Conn, t: Thresholds) -> Check:
    r = await _one(conn, WEBHOOKS_24H)
    return judge_webhooks(r["received"], r["processed"], r["failed"], r["unmatched"], r["rejected"], t)


async def check_leases(conn: Conn, t: Thresholds) -> Check:
    r = await _one(conn, STALLED_LEASES)
    return judge_stalled_leases(r["stalled"], r["oldest_expired_seconds"], t)


async def check_admin(conn: Conn) -> Check:
    return judge_admin((await _one(conn, ACTIVE_ADMINS))["admins"])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


Measure = Callable[[], Awaitable[Check | list[Check]]]


async def _measured(names: tuple[str, ...], measure: Measure, *, schema_current: bool) -> list[Check]:
    """A check whose query fails is a fail line naming the error, and the others still run;
    with migrations pending that is expected, so it is skipped (the database check failed)."""
    try:
        got = await measure()
    except psycopg.Error as exc:
        if not schema_current:
            return skipped(names, f"not measured until migrated: {_first_line(exc)}")
        return [Check(n, "fail", f"could not measure: {_first_line(exc)}",
                      "vitaltrust migrate; then rerun vitaltrust doctor") for n in names]
    return got if isinstance(got, list) else [got]


async def run_checks(conn: Conn, t: Thresholds) -> list[Check]:
    [db] = await _measured(CHECK_NAMES[:1], lambda: check_database(conn), schema_current=True)
    reports: list[HealthReport] = []

    async def pipeline() -> Check:
        if not reports:
            raise psycopg.OperationalError("health not measured")
        return judge_pipeline(reports[0])

    steps: list[tuple[tuple[str, ...], Measure]] = [
        (CHECK_NAMES[1:4], lambda: check_health(conn, t, reports)),
        (CHECK_NAMES[4:5], lambda: check_failed(conn)),
        (CHECK_NAMES[5:6], lambda: check_confidence(conn)),
        (CHECK_NAMES[6:7], lambda: check_webhooks(conn, t)),
        (CHECK_NAMES[7:8], lambda: check_leases(conn, t)),
        (CHECK_NAMES[8:9], lambda: check_admin(conn)),
        (CHECK_NAMES[9:10], pipeline),
    ]
    checks = [db]
    for names, measure in steps:
        checks += await _measured(names, measure, schema_current=not db.data.get("pending"))
    return checks


async def diagnose(url: str, t: Thresholds, *, connect_timeout: int = 5) -> list[Check]:
    """Every check against the database at `url`; unreachable is one fail line, not a traceback."""
    try:
        conn = await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row,
                                             connect_timeout=connect_timeout)
    except psycopg.Error as exc:
        return [judge_database(_first_line(exc), [], []),
                *skipped(CHECK_NAMES[1:], "not measured: the database is unreachable")]
    try:
        await conn.execute("SET default_transaction_read_only = on")
        await conn.execute("SET statement_timeout = '60s'")
        return await run_checks(conn, t)
    finally:
        await conn.close()
