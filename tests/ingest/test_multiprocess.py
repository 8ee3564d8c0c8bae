"""Real `vitaltrust api` processes: durability under SIGKILL, rate limits shared by two servers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.ingest.support import native_body, standard_headers
from tests.support.procs import free_port, spawn, stop, wait_http
from vitaltrust.db import connect
from vitaltrust.ingest.sources import create_source


async def new_source(db_url: str, name: str, **limits: float) -> str:
    conn = await connect(db_url)
    try:
        _, secret = await create_source(conn, name, "standard", **limits)  # type: ignore[arg-type]
        return secret
    finally:
        await conn.close()


def start_api(db_url: str, log: Path) -> tuple[object, str]:
    port = free_port()
    proc = spawn(db_url, "api", "--port", str(port), log_path=log,
                 VITALTRUST_LOG_LEVEL="WARNING")
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    return proc, base


@pytest.mark.drill
@pytest.mark.slow
async def test_sigkill_during_load_loses_no_acknowledged_delivery(db_url: str,
                                                                  tmp_path: Path) -> None:
    secret = await new_source(db_url, "drill", rate_per_second=100000, rate_burst=100000,
                              account_rate_per_second=100000, account_rate_burst=100000)
    proc, base = start_api(db_url, tmp_path / "api.log")
    acked: list[str] = []
    stop_sending = asyncio.Event()

    async def sender(worker: int, client: httpx.AsyncClient) -> None:
        i = 0
        while not stop_sending.is_set():
            body = native_body(user=f"u{worker}", value=60 + i % 40)
            msg_id = f"msg_{worker}_{i}"
            i += 1
            try:
                r = await client.post(f"{base}/webhooks/drill", content=body,
                                      headers=standard_headers(secret, body, msg_id=msg_id))
            except httpx.HTTPError:
                return  # the server is gone
            if 200 <= r.status_code < 300:
                acked.append(msg_id)

    async def killer() -> None:
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        await asyncio.sleep(2)
        stop_sending.set()

    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(killer(), *[sender(w, client) for w in range(16)])
    finally:
        stop(proc)  # type: ignore[arg-type]
    assert len(acked) >= 150
    with psycopg.connect(db_url) as conn:
        stored = {r[0] for r in conn.execute("SELECT event_id FROM webhook_events")}
        jobs = conn.execute("SELECT count(*) FROM background_jobs "
                            "WHERE type = 'webhook_processing'").fetchone()
    missing = [m for m in acked if m not in stored]
    assert not missing, f"{len(missing)} acknowledged deliveries were lost: {missing[:5]}"
    assert jobs is not None and jobs[0] == len(stored)  # every stored event has its job


@pytest.mark.slow
async def test_two_servers_share_the_source_budget(db_url: str, tmp_path: Path) -> None:
    burst, rate = 20, 0.5
    secret = await new_source(db_url, "limited", rate_per_second=rate, rate_burst=burst,
                              account_rate_per_second=1000, account_rate_burst=1000)
    first, base1 = start_api(db_url, tmp_path / "api1.log")
    second, base2 = start_api(db_url, tmp_path / "api2.log")
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            async def post(base: str, i: int) -> httpx.Response:
                body = native_body(user=f"acct-{i}")
                return await client.post(f"{base}/webhooks/limited", content=body,
                                         headers=standard_headers(secret, body))
            started = time.monotonic()
            replies = await asyncio.gather(*[post(base1 if i % 2 else base2, i)
                                             for i in range(120)])
            elapsed = time.monotonic() - started
    finally:
        stop(first)  # type: ignore[arg-type]
        stop(second)  # type: ignore[arg-type]
    accepted = [r for r in replies if r.status_code == 202]
    limited = [r for r in replies if r.status_code == 429]
    assert len(accepted) + len(limited) == 120, {r.status_code for r in replies}
    # one budget for both: two per-process budgets would have accepted up to 2 * burst
    assert burst <= len(accepted) <= burst + int(rate * elapsed) + 1, (len(accepted), elapsed)
    assert {str(r.url).split("/webhooks")[0] for r in replies} == {base1, base2}
    for r in limited:
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["content-type"] == "application/problem+json"
        assert '"source";q=20;w=40' in r.headers["RateLimit-Policy"]
        assert r.headers["RateLimit"].startswith('"source";r=0;')
    with psycopg.connect(db_url) as conn:
        n = conn.execute("SELECT count(*) FROM webhook_events").fetchone()
    assert n is not None and n[0] == len(accepted)  # rejected deliveries store nothing
