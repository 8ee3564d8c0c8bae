"""A real `vitaltrust worker` process: doctor and dashboard follow it through its life."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_user
from tests.support.procs import spawn, stop
from vitaltrust.db import Conn
from vitaltrust.ops.doctor import run_checks
from vitaltrust.ops.judges import Thresholds
from vitaltrust.queue.enqueue import enqueue

HEARTBEAT = 2.0
SLACK = 0.75  # our own polling and a loaded CI machine
WORKER_ENV = {"VITALTRUST_HEARTBEAT_SECONDS": str(HEARTBEAT), "VITALTRUST_POLL_INTERVAL_SECONDS": "0.2",
              "VITALTRUST_SCHEDULER_INTERVAL_SECONDS": "0.5", "VITALTRUST_LOG_FORMAT": "json"}


async def dashboard(conn: Conn) -> dict[str, Any]:
    row = await (await conn.execute("SELECT get_monitoring_dashboard_data() AS d")).fetchone()
    assert row is not None
    return dict(row["d"])


async def doctor(conn: Conn) -> dict[str, str]:
    return {c.name: c.status for c in await run_checks(conn, Thresholds())}


async def wait_until(cond: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Seconds until `cond` held; fails the test after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await cond():
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.mark.slow
async def test_worker_alive_leader_and_sigkill(db_url: str, conn: Conn, tmp_path: Path) -> None:
    await make_user(conn, "admin")
    for _ in range(3):
        await enqueue(conn, "noop", {})

    before = await doctor(conn)
    assert before["a worker is alive"] == "fail"
    assert before["a scheduler leader exists"] == "warn"
    assert (await dashboard(conn))["system_health"]["status"] == "critical"

    log_path = tmp_path / "worker.log"
    proc = spawn(db_url, "worker", log_path=log_path, **WORKER_ENV)
    try:
        async def registered() -> bool:
            row = await (await conn.execute("SELECT count(*) AS n FROM workers")).fetchone()
            return bool(row and row["n"])

        async def healthy() -> bool:
            d, checks = await dashboard(conn), await doctor(conn)
            return (d["system_health"]["status"] == "healthy" and d["workers"]["leader"] is not None
                    and checks["a worker is alive"] == "pass"
                    and checks["a scheduler leader exists"] == "pass"
                    and "fail" not in checks.values())

        await wait_until(registered, 60)
        to_healthy = await wait_until(healthy, HEARTBEAT + SLACK)
        d = await dashboard(conn)
        assert d["workers"]["alive"] == 1
        assert d["workers"]["workers"][0]["pid"] == proc.pid

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

        async def gone() -> bool:
            return (await dashboard(conn))["workers"]["alive"] == 0

        to_gone = await wait_until(gone, 3 * HEARTBEAT + SLACK)
        print(f"healthy {to_healthy:.2f}s after registering; gone {to_gone:.2f}s after SIGKILL "
              f"(heartbeat {HEARTBEAT}s)")
        assert (await doctor(conn))["a worker is alive"] != "pass"
    finally:
        stop(proc)

    # the worker's own log: JSON lines only (VITALTRUST_LOG_FORMAT=json)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert lines
    parsed = [json.loads(line) for line in lines]
    assert any("started" in p["msg"] for p in parsed)
