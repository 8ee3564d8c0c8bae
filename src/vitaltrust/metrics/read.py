"""Read models for the metrics API: per-metric summaries, resolved series, conflicts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vitaltrust.auth.principal import (
    BEARER_HIT,
    Principal,
    access_params,
    bearer_digest,
    bearer_principal,
    no_such_user,
)
from vitaltrust.db import Conn

TOP_REASONS = 3

# Every metric the user has data or a score for, with its cached confidence.
SELECT_SUMMARIES = """
SELECT c.metric, c.display_name, c.canonical_unit AS unit, k.score, k.level, k.latest_value,
       k.last_sample_at, k.computed_at, k.sample_count, k.next_refresh_at,
       k.explanation -> 'reasons' AS reasons, k.daily_series,
       (k.user_id IS NULL) AS pending
FROM metric_catalog c
LEFT JOIN metric_confidence_cache k ON k.user_id = %(user_id)s AND k.metric = c.metric
WHERE k.user_id IS NOT NULL
   OR EXISTS (SELECT 1 FROM metric_samples s WHERE s.user_id = %(user_id)s AND s.metric = c.metric)
ORDER BY c.sort_order
"""
# The resolved series: neither a conflict loser nor hard-implausible (as of the last
# calculation, whose time the caller reports next to it).
SELECT_SAMPLES = """
SELECT s.measured_at, s.local_date, s.value, s.original_value, s.original_unit,
       w.name AS source, s.device_type, s.device_model, s.flags, s.received_at,
       ('IMPLAUSIBLE_VALUE' = ANY (s.flags)) AS implausible,
       EXISTS (SELECT 1 FROM metric_conflicts m
               WHERE m.user_id = s.user_id AND m.metric = s.metric
                 AND m.loser_source_id = s.source_id AND m.loser_measured_at = s.measured_at
                 AND m.loser_device_key = s.device_key
              ) AS lost_conflict
FROM metric_samples s JOIN webhook_sources w ON w.source_id = s.source_id
WHERE s.user_id = %(user_id)s AND s.metric = %(metric)s AND s.measured_at >= %(since)s
ORDER BY s.measured_at, s.source_id, s.device_key
"""
SELECT_CONFLICTS = """
SELECT m.loser_measured_at, m.loser_value, m.loser_device_type, m.loser_device_model,
       ls.name AS loser_source, m.winner_measured_at, m.winner_value, m.winner_device_type,
       m.winner_device_model, ws.name AS winner_source,
       m.difference, m.agrees, m.detected_at
FROM metric_conflicts m
JOIN webhook_sources ls ON ls.source_id = m.loser_source_id
JOIN webhook_sources ws ON ws.source_id = m.winner_source_id
WHERE m.user_id = %(user_id)s AND m.metric = %(metric)s AND m.winner_measured_at >= %(since)s
ORDER BY m.winner_measured_at
"""
# The cached score of a user the caller may see: the access check and the cache row in
# one round trip; for a bearer token the authentication too (the hot lookup).
_VISIBLE_CACHE = """
SELECT a.*, c.user_id IS NOT NULL AS cached, c.score, c.level, c.latest_value,
       c.last_sample_at, c.sample_count, c.computed_at, c.next_refresh_at, c.data_version,
       c.model_version, c.explanation
FROM access a
LEFT JOIN metric_confidence_cache c
       ON a.allowed AND c.user_id = %(target)s AND c.metric = %(metric)s
"""
SELECT_VISIBLE_CACHE = """
WITH access AS (SELECT can_see_user(%(actor)s, %(role)s, %(target)s) AS allowed)
""" + _VISIBLE_CACHE
_ACCESS_OF_HIT = """
, access AS (
    SELECT h.user_id, h.email, h.role, h.token_hash,
           can_see_user(h.user_id, h.role, %(target)s) AS allowed
    FROM hit h
)
"""
SELECT_VISIBLE_CACHE_BY_TOKEN = BEARER_HIT + _ACCESS_OF_HIT + _VISIBLE_CACHE


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(row: dict[str, Any], sparkline_days: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "metric": row["metric"], "display_name": row["display_name"], "unit": row["unit"],
        "latest_value": row["latest_value"],
        "score": float(row["score"]) if row["score"] is not None else None,
        "level": row["level"], "top_reasons": (row["reasons"] or [])[:TOP_REASONS],
        "sample_count": row["sample_count"], "last_sample_at": _iso(row["last_sample_at"]),
        "computed_at": _iso(row["computed_at"]), "pending": row["pending"],
    }
    if sparkline_days:
        out["sparkline"] = (row["daily_series"] or [])[-sparkline_days:]
    return out


async def metric_summaries(conn: Conn, user_id: int, *, sparkline_days: int = 0
                           ) -> list[dict[str, Any]]:
    rows = await (await conn.execute(SELECT_SUMMARIES, {"user_id": user_id})).fetchall()
    return [_summary(r, sparkline_days) for r in rows]


def _point(row: dict[str, Any], with_flags: bool) -> dict[str, Any]:
    point = {"measured_at": row["measured_at"].isoformat(),
             "local_date": row["local_date"].isoformat(), "value": row["value"],
             "source": row["source"], "device_type": row["device_type"]}
    if with_flags:
        point["flags"] = list(row["flags"])
    return point


async def sample_series(conn: Conn, user_id: int, metric: str, *, now: datetime, days: int,
                        include: frozenset[str]) -> dict[str, Any]:
    since = now - timedelta(days=days)
    params = {"user_id": user_id, "metric": metric, "since": since}
    rows = await (await conn.execute(SELECT_SAMPLES, params)).fetchall()
    with_flags = "flags" in include
    out: dict[str, Any] = {
        "series": [_point(r, with_flags) for r in rows
                   if not r["implausible"] and not r["lost_conflict"]],
        "stored_count": len(rows),
    }
    if with_flags:
        out["flagged"] = [
            {**_point(r, True), "original_value": r["original_value"],
             "original_unit": r["original_unit"],
             "excluded": bool(r["implausible"] or r["lost_conflict"])}
            for r in rows if r["flags"] or r["lost_conflict"]]
    if "conflicts" in include:
        conflicts = await (await conn.execute(SELECT_CONFLICTS, params)).fetchall()
        out["conflicts"] = [
            {"winner": {"source": c["winner_source"], "device_type": c["winner_device_type"],
                        "device_model": c["winner_device_model"],
                        "measured_at": c["winner_measured_at"].isoformat(),
                        "value": c["winner_value"]},
             "loser": {"source": c["loser_source"], "device_type": c["loser_device_type"],
                       "device_model": c["loser_device_model"],
                       "measured_at": c["loser_measured_at"].isoformat(),
                       "value": c["loser_value"]},
             "difference": c["difference"], "agrees": c["agrees"],
             "detected_at": c["detected_at"].isoformat()}
            for c in conflicts]
    return out


async def visible_cached_confidence(conn: Conn, principal: Principal, user_id: int,
                                    metric: str) -> dict[str, Any] | None:
    """The cached score of a user the caller may see (None when not cached yet); a 404
    problem for any other user, as `ensure_can_see_user`."""
    row = await (await conn.execute(
        SELECT_VISIBLE_CACHE, {**access_params(principal, user_id), "metric": metric})).fetchone()
    return _visible_payload(row, user_id)


async def token_visible_cached_confidence(conn: Conn, token: str, user_id: int,
                                          metric: str) -> dict[str, Any] | None:
    """`visible_cached_confidence` for the holder of a bearer token, in one statement: a
    401 problem for a bad token, then a 404 for a user out of its reach. `user_id` must be
    in range (`user_id_in_range`)."""
    digest = bearer_digest(token)
    row = await (await conn.execute(SELECT_VISIBLE_CACHE_BY_TOKEN, {
        "digest": digest, "target": user_id, "metric": metric})).fetchone()
    bearer_principal(row, digest)
    return _visible_payload(row, user_id)


def _visible_payload(row: dict[str, Any] | None, user_id: int) -> dict[str, Any] | None:
    if row is None or not row["allowed"]:
        raise no_such_user(user_id)
    if not row["cached"]:
        return None
    return {
        "score": float(row["score"]), "level": row["level"], "latest_value": row["latest_value"],
        "last_sample_at": _iso(row["last_sample_at"]), "sample_count": row["sample_count"],
        "computed_at": _iso(row["computed_at"]), "next_refresh_at": _iso(row["next_refresh_at"]),
        "data_version": row["data_version"], "model_version": row["model_version"],
        "explanation": row["explanation"], "cached": True,
    }
