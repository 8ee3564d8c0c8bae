"""Admin JSON API for the jobs console: list, one job, retry or discard a selection.

Admins only; every change is audited. Documented in docs/api.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.principal import MAX_BIGINT, AdminUser
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn
from vitaltrust.monitoring import joblist

router = APIRouter()
TAGS: list[Any] = ["jobs"]
TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
MAX_SELECTION = 1000


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=MAX_BIGINT)]] = Field(
        min_length=1, max_length=MAX_SELECTION, description="Job ids.")


class RetryResult(BaseModel):
    requested: int
    retried: int


class DiscardResult(BaseModel):
    requested: int
    discarded: int


@router.get("/api/admin/jobs", tags=TAGS)
async def list_jobs(
    conn: DbConn, principal: AdminUser,
    status: Annotated[joblist.JobStatus | None, Query(description="One status.")] = None,
    type: Annotated[str | None, Query(pattern=TYPE_PATTERN, description="Job type.")] = None,
    since: Annotated[datetime | None, Query(description="Enqueued at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Enqueued before (ISO 8601).")] = None,
    error: Annotated[str | None, Query(min_length=1, max_length=200,
                                       description="Text in the last error (any case).")] = None,
    after: Annotated[int | None, Query(ge=1, le=MAX_BIGINT,
                                       description="Keyset cursor: `next_after` of the page before.")] = None,
    limit: Annotated[int, Query(ge=1, le=joblist.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Jobs newest first, filtered; `next_after` pages on (null on the last page)."""
    for value in (since, until):
        if value is not None and value.tzinfo is None:
            raise Problem(422, "since and until need a time zone, e.g. 2026-01-31T12:00:00Z.")
    f = joblist.JobFilter(status=status, type=type, since=since, until=until, error=error)
    page = await joblist.list_jobs(conn, f, after=after, limit=limit)
    return {**page, "types": await joblist.job_types(conn),
            "filter": {"status": status, "type": type, "since": since, "until": until,
                       "error": error}}


@router.get("/api/admin/jobs/{job_id}", tags=TAGS)
async def get_job(conn: DbConn, principal: AdminUser, job_id: int) -> dict[str, Any]:
    """One job: payload, dedupe key, every failed attempt (worker, duration, error,
    traceback) and the webhook event it processes, if any."""
    if not 1 <= job_id <= MAX_BIGINT:
        raise Problem(404, f"There is no job {job_id}.")
    found = await joblist.job_detail(conn, job_id)
    if found is None:
        raise Problem(404, f"There is no job {job_id}; it may have been discarded or "
                      "removed by retention.")
    return found


@router.post("/api/admin/jobs/retry", tags=TAGS)
async def retry_jobs(conn: DbConn, principal: AdminUser, body: Selection) -> RetryResult:
    """Put the failed jobs of the selection back in the queue with fresh attempts (others
    are left as they are)."""
    ids = sorted(set(body.ids))
    retried = await joblist.retry_ids(conn, ids)
    await record_audit(conn, principal, "jobs.retry", f"{len(ids)} job(s)",
                       {"ids": ids[:100], "retried": retried}, "ok")
    return RetryResult(requested=len(ids), retried=retried)


@router.post("/api/admin/jobs/discard", tags=TAGS)
async def discard_jobs(conn: DbConn, principal: AdminUser, body: Selection) -> DiscardResult:
    """Delete the failed or pending jobs of the selection (running jobs finish)."""
    ids = sorted(set(body.ids))
    gone = await joblist.discard_ids(conn, ids)
    await record_audit(conn, principal, "jobs.discard", f"{len(ids)} job(s)",
                       {"ids": ids[:100], "discarded": [(g["id"], g["type"]) for g in gone][:100]},
                       "ok")
    return DiscardResult(requested=len(ids), discarded=len(gone))
