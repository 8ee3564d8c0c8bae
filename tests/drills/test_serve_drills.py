"""Drills on the whole pipeline (`vitaltrust serve`: API + worker + scheduler) under
device load: SIGKILL and restart, and a PostgreSQL restart. The queue and ingest drills
cover the worker and the API alone (tests/queue, tests/ingest)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.drills.load import (
    NOT_PROCESSED,
    UNFINISHED,
    Load,
    assert_nothing_lost,
    prepare,
    scalar,
    settled,
)
from tests.queue.test_pg_restart import STARTED, private_pg, restart  # noqa: F401 (fixture)
from tests.support.pg import create_database, with_dbname
from tests.support.procs import free_port, spawn, stop, wait_http
from vitaltrust.db import connect
from vitaltrust.migrations import migrate

pytestmark = [pytest.mark.drill, pytest.mark.slow]
# a killed process's jobs come back after the lease, rescued by the scheduler
QUICK = {"VITALTRUST_JOB_LEASE_SECONDS": "5", "VITALTRUST_SCHEDULER_INTERVAL_SECONDS": "1",
         "VITALTRUST_POLL_INTERVAL_SECONDS": "0.2", "VITALTRUST_HEARTBEAT_SECONDS": "1",
         "VITALTRUST_LOG_LEVEL": "WARNING"}


def serve(db_url: str, port: int, log: Path) -> object:
    proc = spawn(db_url, "serve", "--port", str(port), log_path=log, **QUICK)
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
    return proc


async def test_serve_sigkilled_mid_load_then_restarted_loses_nothing(
        db_url: str, tmp_path: Path) -> None:
    load = Load("", await prepare(db_url))
    port = free_port()
    load.base = f"http://127.0.0.1:{port}"
    first = serve(db_url, port, tmp_path / "serve-1.log")
    second = None
    try:
        async with load.running():
            await load.until(200)
            os.killpg(first.pid, signal.SIGKILL)  # type: ignore[attr-defined]
            first.wait(10)  # type: ignore[attr-defined]
            at_kill = len(load.acked)
            unfinished = scalar(db_url, UNFINISHED) + scalar(db_url, NOT_PROCESSED)
            second = await asyncio.to_thread(serve, db_url, port, tmp_path / "serve-2.log")
            await load.until(at_kill + 100)
        await settled(db_url)
    finally:
        for proc in (first, second):
            if proc is not None:
                stop(proc)  # type: ignore[arg-type]
    assert unfinished > 0  # the kill left work behind for the restarted server
    assert load.refused > 0  # the devices did notice the outage
    assert_nothing_lost(db_url, load.acked)


async def test_postgres_restart_under_serve_and_load_loses_nothing(
        private_pg: object, tmp_path: Path) -> None:  # noqa: F811
    admin = private_pg.get_uri()  # type: ignore[attr-defined]
    create_database(admin, "drill")
    db_url = with_dbname(admin, "drill")
    conn = await connect(db_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    load = Load("", await prepare(db_url))
    port = free_port()
    load.base = f"http://127.0.0.1:{port}"
    proc = serve(db_url, port, tmp_path / "serve.log")
    try:
        async with load.running():
            await load.until(150)
            started = scalar(db_url, STARTED)
            await asyncio.to_thread(restart, private_pg)
            assert scalar(db_url, STARTED) != started  # every session was cut
            after_restart = len(load.acked)
            await load.until(after_restart + 150, within=60)  # the server recovered
        assert proc.poll() is None  # type: ignore[attr-defined]  # reconnected, not crashed
        await settled(db_url)
    finally:
        stop(proc)  # type: ignore[arg-type]
    assert_nothing_lost(db_url, load.acked)
