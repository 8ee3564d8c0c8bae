"""Data for `bench recalc` and `bench lookup`: a throw-away database filled set-based.

Clients x metrics pairs, each with samples spread over the 30-day window from one
source (plus a second, manual source on weight every few days, so conflicts exist).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vitaltrust.db import Conn, connect
from vitaltrust.migrations import migrate

# metric, typical value, relative noise, device type
BENCH_METRICS = (
    ("weight", 80.0, 0.004, "scale"),
    ("resting_heart_rate", 58.0, 0.03, "ring"),
    ("hrv_rmssd", 45.0, 0.08, "ring"),
    ("steps", 8000.0, 0.25, "watch"),
    ("sleep_duration", 27000.0, 0.08, "ring"),
    ("body_fat", 22.0, 0.02, "scale"),
    ("spo2", 97.0, 0.01, "ring"),
    ("blood_pressure_systolic", 122.0, 0.04, "bp_cuff"),
    ("blood_pressure_diastolic", 80.0, 0.04, "bp_cuff"),
    ("vo2max", 44.0, 0.02, "watch"),
)

INSERT_SOURCE = """
INSERT INTO webhook_sources (name, kind, signing_key)
VALUES ('bench-source', 'standard', decode(md5(random()::text), 'hex'))
ON CONFLICT (name) DO UPDATE SET enabled = true
RETURNING source_id
"""
INSERT_USERS = """
INSERT INTO users (email, role, display_name)
SELECT 'bench-' || %(tag)s || '-' || g || '@bench.invalid', 'client', 'Bench client ' || g
FROM generate_series(1, %(users)s) g
"""
# samples_per pairs samples over 30 days, newest a few hours old; noise around `base`.
INSERT_SAMPLES = """
INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value,
                            device_type, received_at)
SELECT u.user_id, m.metric, %(source_id)s, t.at, (t.at AT TIME ZONE 'UTC')::date,
       m.base * (1 + m.noise * (random() - 0.5) * 2), m.device, now()
FROM users u
CROSS JOIN unnest(%(metrics)s::text[], %(bases)s::float8[], %(noises)s::float8[],
                  %(devices)s::text[]) AS m(metric, base, noise, device)
CROSS JOIN LATERAL (
    SELECT now() - make_interval(hours => 3 + (u.user_id %% 5)::int)
           - (g * 30.0 / %(samples_per)s) * interval '1 day' AS at
    FROM generate_series(0, %(samples_per)s - 1) g) t
WHERE u.email LIKE 'bench-' || %(tag)s || '-%%'
ON CONFLICT DO NOTHING
"""
INSERT_MANUAL_WEIGHTS = """
INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value,
                            device_type, received_at)
SELECT s.user_id, s.metric, w.source_id, s.measured_at + interval '10 minutes', s.local_date,
       s.value + 0.5, 'manual', now()
FROM metric_samples s, webhook_sources w
WHERE w.name = 'manual' AND s.metric = 'weight' AND s.source_id = %(source_id)s
  AND (extract(day FROM s.measured_at)::int %% 5) = 0
ON CONFLICT DO NOTHING
"""
PAIRS = """
SELECT u.user_id, m.metric FROM users u CROSS JOIN unnest(%(metrics)s::text[]) AS m(metric)
WHERE u.email LIKE 'bench-' || %(tag)s || '-%%' ORDER BY 1, 2
"""


def with_dbname(url: str, dbname: str) -> str:
    info = conninfo_to_dict(url)
    info["dbname"] = dbname
    return make_conninfo("", **info)


@asynccontextmanager
async def bench_database(server_url: str, given_url: str | None, keep: bool
                         ) -> AsyncIterator[str]:
    """The URL of a migrated database: `given_url`, or a fresh one dropped afterwards."""
    if given_url:
        yield await _migrated(given_url)
        return
    name = f"vt_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        yield await _migrated(with_dbname(server_url, name))
    finally:
        if not keep:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    pgsql.Identifier(name)))


async def _migrated(url: str) -> str:
    conn = await connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


def _metric_params(metrics: int) -> dict[str, list[object]]:
    chosen = BENCH_METRICS[:metrics]
    return {"metrics": [m[0] for m in chosen], "bases": [m[1] for m in chosen],
            "noises": [m[2] for m in chosen], "devices": [m[3] for m in chosen]}


async def fill(conn: Conn, *, users: int, metrics: int, samples_per: int) -> tuple[str, int]:
    """Insert the bench users and their samples; returns (tag, source_id)."""
    tag = uuid.uuid4().hex[:6]
    async with conn.transaction():
        row = await (await conn.execute(INSERT_SOURCE)).fetchone()
        assert row is not None
        source_id = int(row["source_id"])
        await conn.execute(INSERT_USERS, {"tag": tag, "users": users})
    async with conn.transaction():
        await conn.execute(INSERT_SAMPLES, {"tag": tag, "source_id": source_id,
                                            "samples_per": samples_per,
                                            **_metric_params(metrics)})
        await conn.execute(INSERT_MANUAL_WEIGHTS, {"source_id": source_id})
    await conn.execute("ANALYZE")
    return tag, source_id


async def bench_pairs(conn: Conn, tag: str, metrics: int) -> list[tuple[int, str]]:
    rows = await (await conn.execute(PAIRS, {"tag": tag, **_metric_params(metrics)})).fetchall()
    return [(r["user_id"], r["metric"]) for r in rows]
