"""`vitaltrust selftest` against real `vitaltrust serve` / `vitaltrust api` processes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import bearer_for, make_user
from tests.support.cli import run_cli
from tests.support.procs import running_api
from vitaltrust.db import Conn
from vitaltrust.selftest.checks import CHECKS

pytestmark = pytest.mark.slow
FAST = {"VITALTRUST_POLL_INTERVAL_SECONDS": "0.2", "VITALTRUST_LOG_LEVEL": "WARNING"}
LEFTOVERS = """
SELECT (SELECT count(*) FROM users WHERE is_sandbox) AS users,
       (SELECT count(*) FROM webhook_sources WHERE is_sandbox) AS sources,
       (SELECT count(*) FROM selftest_sandboxes) AS sandboxes,
       (SELECT count(*) FROM metric_samples) AS samples,
       (SELECT count(*) FROM webhook_events) AS events
"""


async def admin_token(conn: Conn) -> str:
    headers = await bearer_for(conn, await make_user(conn, "admin"))
    return headers["Authorization"].removeprefix("Bearer ")


def selftest(db_url: str, base: str, token: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli(db_url, "selftest", "--url", base, "--token", token, "--json", *args,
                   timeout=120)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def outcome(report: dict[str, Any]) -> dict[str, bool]:
    return {r["check"]: r["ok"] for r in report["results"]}


async def test_selftest_passes_against_serve_and_cleans_up(db_url: str, conn: Conn) -> None:
    token = await admin_token(conn)
    with running_api(db_url, command="serve", **FAST) as base:
        code, report = selftest(db_url, base, token)
    assert outcome(report) == dict.fromkeys(CHECKS, True), report
    assert code == 0 and report["cleanup"] == "ok"
    left = await (await conn.execute(LEFTOVERS)).fetchone()
    assert left == {"users": 0, "sources": 0, "sandboxes": 0, "samples": 0, "events": 0}


async def test_rate_limiting_off_fails_the_check_and_the_exit_code(db_url: str, conn: Conn
                                                                   ) -> None:
    token = await admin_token(conn)
    with running_api(db_url, command="serve", VITALTRUST_RATE_LIMIT_ENABLED="false",
                     **FAST) as base:
        code, report = selftest(db_url, base, token)
    assert outcome(report) == {**dict.fromkeys(CHECKS, True), "rate-limiting": False}, report
    assert code == 1
    detail = next(r["detail"] for r in report["results"] if r["check"] == "rate-limiting")
    assert "none refused with 429" in detail


async def test_without_a_worker_the_cache_checks_fail(db_url: str, conn: Conn) -> None:
    token = await admin_token(conn)
    with running_api(db_url, command="api", **FAST) as base:
        code, report = selftest(db_url, base, token, "--deadline", "2", "--check", "accuracy",
                                "--check", "cache-invalidation", "--check", "rate-limiting")
    assert outcome(report) == {"accuracy": False, "cache-invalidation": False,
                               "rate-limiting": True}, report
    assert code == 1
    assert all("not within 2 s" in r["detail"] for r in report["results"] if not r["ok"])
