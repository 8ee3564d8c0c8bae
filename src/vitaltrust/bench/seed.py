"""`vitaltrust bench seed`: production-sized monitoring data, set-based, in a few minutes.

At scale 1: 1,000,000 background_jobs, statistics for 2,000,000 webhook deliveries,
10,000,000 samples (10,000 clients x 10 metrics x 100), 100,000 confidence cache rows
with their history, and per-minute rollups for 30 days. The target is DATABASE_URL (or
the embedded database), which must hold no users yet, or a new database (--create-db).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Annotated, Any

import psycopg
import typer
from psycopg import sql as pgsql

from vitaltrust.auth.users import UserError
from vitaltrust.bench import _seed_sql as q
from vitaltrust.config import get_settings
from vitaltrust.db import Conn, connect, redact, resolve_database_url
from vitaltrust.migrations import migrate


def seed_params(scale: float, days: int) -> dict[str, int]:
    clients = max(10, round(10_000 * scale))
    return {"clients": clients, "trainers": max(1, clients // 20), "samples_per": 100,
            "history_per": 15, "jobs": max(1000, round(1_000_000 * scale)),
            "deliveries": max(1000, round(2_000_000 * scale)), "days": days}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def seed(conn: Conn, params: dict[str, int], *, progress: bool = True) -> dict[str, Any]:
    """Fill an empty, migrated database (`conn` in autocommit); returns timings and counts."""
    row = await (await conn.execute(q.ANY_USERS)).fetchone()
    if row and row["present"]:
        raise UserError("the database already has users; bench seed only fills an empty one "
                        "(use --create-db NAME for a fresh database)")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for statement in q.SETUP:
        await conn.execute(statement)
    await conn.execute(q.LOAD_MEMORY)
    await conn.execute(q.NO_JIT)
    try:
        await conn.execute(q.SKIP_TRIGGERS)
    except psycopg.errors.InsufficientPrivilege:
        _say("  (not a superuser: foreign keys are checked row by row, which is slower)")
    indexes = await (await conn.execute(q.SECONDARY_INDEXES, (q.BIG_TABLES,))).fetchall()
    for ix in indexes:
        await conn.execute(pgsql.SQL("DROP INDEX {}").format(pgsql.Identifier(ix["name"])))
    for name, statement in q.STEPS:
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.execute(statement, params)
        timings[name] = round(time.perf_counter() - t0, 2)
        if progress:
            _say(f"  {name}: {timings[name]:.1f} s")
    t0 = time.perf_counter()
    for ix in indexes:
        await conn.execute(ix["definition"])
    timings["rebuild_indexes"] = round(time.perf_counter() - t0, 2)
    await conn.execute("RESET session_replication_role")
    await conn.execute(q.REBUILD_PENDING_COUNTS)
    t0 = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")  # visibility map for index-only scans, fresh stats
    timings["vacuum_analyze"] = round(time.perf_counter() - t0, 2)
    counts = await (await conn.execute(q.COUNTS)).fetchone()
    return {"params": params, "seconds": timings,
            "total_seconds": round(time.perf_counter() - started, 2),
            "rows": {k: int(v or 0) for k, v in dict(counts or {}).items()}}


async def _create_database(url: str, name: str) -> str:
    conn = await connect(url)
    try:
        await conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    finally:
        await conn.close()
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo("", **info)


async def run_seed(scale: float, days: int, create_db: str | None) -> dict[str, Any]:
    url = resolve_database_url(get_settings(), keep_running=True)
    if create_db:
        url = await _create_database(url, create_db)
    conn = await connect(url)
    try:
        await migrate(conn)
        result = await seed(conn, seed_params(scale, days))
    finally:
        await conn.close()
    return {"scenario": "seed", "scale": scale, "database": redact(url), **result}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("seed")
    def seed_command(
        scale: Annotated[float, typer.Option(help="1 = full size; 0.01 for a quick run.",
                                             min=0.0001, max=10)] = 1.0,
        days: Annotated[int, typer.Option(help="Days of per-minute statistics.",
                                          min=1, max=60)] = 30,
        create_db: Annotated[str | None, typer.Option(
            "--create-db", help="Create this database on the server and seed it.")] = None,
    ) -> None:
        """Fill a database with production-sized monitoring data (JSON on stdout)."""
        from vitaltrust.cli import friendly_errors

        result = friendly_errors(lambda: asyncio.run(run_seed(scale, days, create_db)))()
        typer.echo(json.dumps(result, indent=2))
