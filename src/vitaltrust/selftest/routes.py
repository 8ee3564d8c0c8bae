"""Admin-only self-test API: run the checks against this server, and the sandbox
endpoints the checks (and `vitaltrust selftest` against a remote server) use."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import psycopg
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.auth.audit import record_audit, record_audit_detached
from vitaltrust.auth.principal import MAX_BIGINT, AdminUser
from vitaltrust.auth.tokens import issue_api_token, revoke_api_token
from vitaltrust.db import transaction
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn, Pool
from vitaltrust.selftest import sandbox
from vitaltrust.selftest.checks import CHECKS
from vitaltrust.selftest.runner import DEFAULT_DEADLINE, run_selftest, unknown_checks

router = APIRouter(tags=["selftest"])
UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
RUN_TOKEN_TTL = timedelta(minutes=10)
DROP_ATTEMPTS = 5


class SelftestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checks: list[str] | None = Field(default=None, description=f"Some of: {', '.join(CHECKS)}; "
                                     "all when omitted.", examples=[["rate-limiting"]])
    deadline_seconds: float = Field(default=DEFAULT_DEADLINE, gt=0, le=60,
                                    description="How long a refresh may take.")


@router.post("/api/admin/selftest")
async def run_selftest_here(request: Request, principal: AdminUser, pool: Pool,
                            body: SelftestRequest | None = None) -> dict[str, Any]:
    """Run the self-test against this server (in-process, through its own HTTP API):
    `{ok, results: [{check, ok, duration_ms, detail}], cleanup}`."""
    body = body or SelftestRequest()
    if bad := unknown_checks(body.checks):
        raise Problem(422, f"unknown check(s) {', '.join(bad)}; known: {', '.join(CHECKS)}")
    # the checks call the admin endpoints as this admin, with a token that lives for this run
    async with transaction(pool) as conn:
        token_id, token = await issue_api_token(
            conn, principal.user_id, "selftest-run", expires_at=datetime.now(UTC) + RUN_TOKEN_TTL)
    transport = httpx.ASGITransport(app=request.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url),
                                     timeout=30) as http:
            report = await run_selftest(http, token, body.checks, body.deadline_seconds)
    finally:
        async with transaction(pool) as conn:
            await revoke_api_token(conn, principal.user_id, token_id)
    out = report.as_json()
    await record_audit_detached(pool, principal, "selftest.run", None, out,
                                "ok" if report.ok else "error")
    return out


@router.post("/api/admin/selftest/sandbox", status_code=201)
async def create_sandbox(conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    """A sandbox client user (bearer token) and two sandbox webhook sources with their
    secrets; kept out of dashboards and statistics. Sandboxes older than an hour go."""
    created = await sandbox.create_sandbox(conn, principal.user_id)
    await record_audit(conn, principal, "selftest.sandbox.create", f"user:{created['user_id']}",
                       {}, "ok")
    return created


@router.get("/api/admin/selftest/sandbox/{user_id}")
async def sandbox_events(user_id: UserId, conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    """The deliveries the sandbox's sources received, with their processing status."""
    if not await sandbox.is_sandbox(conn, user_id):
        raise Problem(404, f"No self-test sandbox {user_id}.")
    return {"user_id": user_id, "events": await sandbox.sandbox_events(conn, user_id)}


@router.delete("/api/admin/selftest/sandbox/{user_id}", status_code=204)
async def drop_sandbox(user_id: UserId, pool: Pool, principal: AdminUser) -> Response:
    """Remove the sandbox and every row it produced."""
    for attempt in range(DROP_ATTEMPTS):
        try:  # a job still writing the sandbox's rows may deadlock with the cascade: retry
            async with transaction(pool) as conn:
                if not await sandbox.drop_sandbox(conn, user_id):
                    raise Problem(404, f"No self-test sandbox {user_id}.")
                await record_audit(conn, principal, "selftest.sandbox.drop", f"user:{user_id}",
                                   {"attempts": attempt + 1}, "ok")
            return Response(status_code=204)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            await asyncio.sleep(0.05 * (attempt + 1))
    raise Problem(503, "The sandbox is busy; retry later.", headers={"Retry-After": "1"})
