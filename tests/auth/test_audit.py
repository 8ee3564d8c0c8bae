"""record_audit: in the caller's transaction; record_audit_detached: survives a rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from vitaltrust.auth.audit import recent_audit, record_audit, record_audit_detached
from vitaltrust.auth.principal import Principal
from vitaltrust.config import Settings
from vitaltrust.db import Conn, create_pool


async def test_rows_carry_who_what_when_result(conn: Conn) -> None:
    admin = await make_user(conn, "admin")
    who = Principal(admin.user_id, admin.email, "admin", "session")
    when = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    audit_id = await record_audit(conn, who, "jobs.retry_failed", "job_type:webhook_processing",
                                  {"retried": 3, "at": when}, "ok")
    await record_audit(conn, None, "auth.login", "x@example.test", {}, "denied")
    rows = await recent_audit(conn, limit=10)
    assert [r["action"] for r in rows] == ["auth.login", "jobs.retry_failed"]
    first = rows[1]
    assert first["audit_id"] == audit_id and first["actor_email"] == admin.email
    assert first["actor_role"] == "admin" and first["result"] == "ok"
    assert first["details"] == {"retried": 3, "at": when.isoformat(sep=" ")}
    assert (datetime.now(UTC) - first["created_at"]).total_seconds() < 60
    only = await recent_audit(conn, action="auth.login")
    assert [r["result"] for r in only] == ["denied"]


async def test_bad_result_is_refused(conn: Conn) -> None:
    with pytest.raises(ValueError):
        await record_audit(conn, None, "x", None, {}, "maybe")  # type: ignore[arg-type]


async def test_in_transaction_rows_roll_back_but_detached_rows_stay(
        conn: Conn, db_url: str, settings: Settings) -> None:
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            await record_audit(conn, None, "jobs.retry_failed", None, {}, "ok")
            raise RuntimeError("the action failed")
    pool = create_pool(db_url, settings)
    await pool.open()
    try:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await record_audit_detached(pool, None, "jobs.retry_failed", None,
                                            {"error": "boom"}, "error")
                raise RuntimeError("the action failed")
    finally:
        await pool.close()
    rows = await recent_audit(conn)
    assert [(r["action"], r["result"]) for r in rows] == [("jobs.retry_failed", "error")]


async def test_refused_state_changes_are_audited(app_client: httpx.AsyncClient,
                                                 conn: Conn) -> None:
    client = await make_user(conn, "client")
    auth = await bearer_for(conn, client)
    r = await app_client.post("/api/admin/jobs/retry-failed", json={}, headers=auth)
    assert r.status_code == 403
    assert (await app_client.get("/api/admin/monitoring", headers=auth)).status_code == 403
    rows = await recent_audit(conn, action="access.denied")
    assert [(r["actor_id"], r["target"], r["result"]) for r in rows] == [
        (client.user_id, "POST /api/admin/jobs/retry-failed", "denied")]  # reads are not logged
