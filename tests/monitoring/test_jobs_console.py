"""The jobs console API against a real database and the real worker: filters, keyset pages,
a job's attempts with tracebacks, retry and discard of a selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import bearer_for, make_user
from tests.monitoring.activity import run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.monitoring.joblist import JobFilter, list_query
from vitaltrust.queue.enqueue import enqueue

BAD = {"user_id": "not-a-number", "metric": "weight"}


async def failing_jobs(conn: Conn, n: int, *, max_attempts: int = 1) -> list[int]:
    ids: list[int] = []
    async with conn.transaction():
        for i in range(n):
            job = await enqueue(conn, "confidence_calculation", {**BAD, "n": i},
                                max_attempts=max_attempts)
            assert job is not None
            ids.append(job)
    return ids


async def test_failed_attempts_are_recorded_with_traceback(
        app_client: httpx.AsyncClient, conn: Conn, db_url: str, settings: Settings) -> None:
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    [job_id] = await failing_jobs(conn, 1, max_attempts=2)
    await run_jobs(db_url, settings)                      # attempt 1: failed, retried later
    await conn.execute("UPDATE background_jobs SET run_at = now() WHERE id = %s", (job_id,))
    await run_jobs(db_url, settings)                      # attempt 2: failed for good
    r = await app_client.get(f"/api/admin/jobs/{job_id}", headers=admin)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "failed" and job["payload"]["user_id"] == "not-a-number"
    assert job["attempts"] == 2 and job["max_attempts"] == 2
    assert [a["attempt"] for a in job["attempt_history"]] == [1, 2]
    assert [a["outcome"] for a in job["attempt_history"]] == ["retried", "failed"]
    for a in job["attempt_history"]:
        assert a["worker"].startswith("inline:") and a["duration_ms"] >= 0
        assert a["error"] and "Traceback (most recent call last)" in a["traceback"]
        assert datetime.fromisoformat(a["started_at"]) <= datetime.fromisoformat(a["finished_at"])
    missing = await app_client.get("/api/admin/jobs/999999999", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_filters_keyset_pages_and_selection_actions(
        app_client: httpx.AsyncClient, conn: Conn, db_url: str, settings: Settings) -> None:
    admin_user = await make_user(conn, "admin")
    admin = await bearer_for(conn, admin_user)
    failed = await failing_jobs(conn, 7)
    await run_jobs(db_url, settings)
    async with conn.transaction():
        waiting = await enqueue(conn, "noop", {}, run_at=datetime.now(UTC) + timedelta(hours=1))

    seen: list[int] = []
    after = None
    for _ in range(5):
        q = {"status": "failed", "limit": 3, **({"after": after} if after else {})}
        page = (await app_client.get("/api/admin/jobs", params=q, headers=admin)).json()
        seen += [row["id"] for row in page["rows"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == sorted(failed, reverse=True)  # every failed job once, newest first
    assert page["counts"] == {"pending": 1, "processing": 0, "failed": 7}
    assert "confidence_calculation" in page["types"]

    by_error = (await app_client.get("/api/admin/jobs", headers=admin, params={
        "error": "NOT-A-NUMBER"})).json()  # any case; the error quotes the bad id
    assert {r["id"] for r in by_error["rows"]} <= set(failed)
    by_type = (await app_client.get("/api/admin/jobs", headers=admin,
                                    params={"type": "noop"})).json()
    assert [r["id"] for r in by_type["rows"]] == [waiting]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await app_client.get("/api/admin/jobs", headers=admin,
                                 params={"since": future})).json()["rows"] == []
    for bad in ({"status": "lost"}, {"type": "x'; drop"}, {"since": "yesterday"},
                {"since": "2026-01-01T00:00:00"}, {"limit": 0}, {"after": -1}):
        r = await app_client.get("/api/admin/jobs", headers=admin, params=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"

    retried = await app_client.post("/api/admin/jobs/retry", headers=admin,
                                    json={"ids": [failed[0], failed[1], waiting]})
    assert retried.json() == {"requested": 3, "retried": 2}  # the pending one is left alone
    discarded = await app_client.post("/api/admin/jobs/discard", headers=admin,
                                      json={"ids": failed[2:4]})
    assert discarded.json() == {"requested": 2, "discarded": 2}
    states = await (await conn.execute(
        "SELECT id, status FROM background_jobs WHERE id = ANY(%s)", (failed,))).fetchall()
    assert {s["id"]: s["status"] for s in states} == {
        failed[0]: "pending", failed[1]: "pending", failed[4]: "failed", failed[5]: "failed",
        failed[6]: "failed"}
    assert (await app_client.post("/api/admin/jobs/retry", headers=admin,
                                  json={"ids": []})).status_code == 422
    audit = await (await conn.execute(
        "SELECT action FROM audit_log WHERE action LIKE 'jobs.%' ORDER BY audit_id")).fetchall()
    assert [a["action"] for a in audit] == ["jobs.retry", "jobs.discard"]


def test_failed_list_names_its_status_so_the_partial_index_applies() -> None:
    query, params = list_query(JobFilter(status="failed", error="50%_off"), after=10)
    text = query.as_string(None)
    assert "b.status = 'failed'" in text and "b.id < %(after)s" in text
    assert params["error"] == "%50\\%\\_off%"  # LIKE wildcards in the search are literal
