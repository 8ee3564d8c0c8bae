"""POST /api/admin/selftest against the app itself (with its worker), and checks that
must fail when the property is broken between the self-test and a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import bearer_for, make_user
from vitaltrust.app import create_app
from vitaltrust.bench.ingest import signed_headers
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.selftest.checks import CHECKS
from vitaltrust.selftest.runner import run_selftest

STATISTICS = """
SELECT (SELECT count(*) FROM webhook_stats_minute) AS webhooks,
       (SELECT count(*) FROM function_stats_minute) AS functions,
       (SELECT count(*) FROM job_stats_minute) AS jobs
"""


@pytest.fixture
async def served(settings: Settings, db_url: str) -> AsyncIterator[FastAPI]:
    """The app with its worker and scheduler, as `vitaltrust serve` runs it."""
    app = create_app(settings, database_url=db_url, run_worker=True)
    async with app.router.lifespan_context(app):
        yield app


def client(app: FastAPI, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport or httpx.ASGITransport(app=app),
                             base_url="http://testserver", timeout=30)


async def test_post_selftest_runs_all_checks_and_leaves_no_statistics(
        served: FastAPI, conn: Conn, settings: Settings) -> None:
    headers = await bearer_for(conn, await make_user(conn, "admin"))
    async with client(served) as http:
        r = await http.post("/api/admin/selftest", headers=headers)
        assert r.status_code == 200, r.text
        report = r.json()
        assert [(x["check"], x["ok"]) for x in report["results"]] == \
            [(name, True) for name in CHECKS], [x for x in report["results"] if not x["ok"]]
        assert report["ok"] and report["cleanup"] == "ok"
        one = await http.post("/api/admin/selftest", headers=headers,
                              json={"checks": ["idempotency"]})
        assert [x["check"] for x in one.json()["results"]] == ["idempotency"]
        bad = await http.post("/api/admin/selftest", headers=headers, json={"checks": ["nope"]})
        assert bad.status_code == 422 and "unknown check" in bad.json()["detail"]
    await asyncio.sleep(3 * settings.stats_flush_seconds)
    assert await (await conn.execute(STATISTICS)).fetchone() == \
        {"webhooks": 0, "functions": 0, "jobs": 0}
    audit = await (await conn.execute(
        "SELECT action, result FROM audit_log WHERE action LIKE 'selftest.%%' ORDER BY audit_id"
    )).fetchall()
    assert [a["action"] for a in audit].count("selftest.run") == 2
    assert {"action": "selftest.sandbox.drop", "result": "ok"} in audit
    # the run's temporary admin token is revoked
    live = await (await conn.execute(
        "SELECT count(*) AS n FROM api_tokens WHERE name = 'selftest-run' AND revoked_at IS NULL"
    )).fetchone()
    assert live == {"n": 0}


class FreshDeliveryIds(httpx.AsyncBaseTransport):
    """Between the self-test and the server: every webhook delivery gets a new id (signed
    again with the sandbox secret it saw go by), as a server that ignores ids would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.secrets: dict[str, str] = {}
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/webhooks/") and path.rsplit("/", 1)[1] in self.secrets:
            self.sent += 1
            body = await request.aread()
            msg_id = f"{request.headers['webhook-id']}-{self.sent}"
            headers = signed_headers("standard", self.secrets[path.rsplit("/", 1)[1]], body,
                                     msg_id, int(request.headers["webhook-timestamp"]))
            request = httpx.Request("POST", request.url, content=body, headers=headers)
        response = await self.inner.handle_async_request(request)
        if path == "/api/admin/selftest/sandbox" and response.status_code == 201:
            data: dict[str, Any] = httpx.Response(201, content=await response.aread()).json()
            self.secrets.update({s["name"]: s["secret"] for s in data["sources"].values()})
            return httpx.Response(201, json=data)
        return response


async def test_idempotency_fails_when_delivery_ids_are_not_honoured(
        served: FastAPI, conn: Conn) -> None:
    token = (await bearer_for(conn, await make_user(conn, "admin")))["Authorization"][7:]
    breaker = FreshDeliveryIds(httpx.ASGITransport(app=served))
    async with client(served, breaker) as http:
        report = await run_selftest(http, token, ["idempotency"], deadline=5)
    assert breaker.sent == 20
    [result] = report.results
    assert not result.ok and "20" in result.detail and "202" in result.detail, result
    assert not report.ok and report.cleanup == "ok"
