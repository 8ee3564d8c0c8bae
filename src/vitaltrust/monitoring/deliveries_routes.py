"""Admin JSON API for deliveries: /api/admin/webhook-events (admins only; bodies are raw
provider data). Changes are audited. Documented in docs/api.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.principal import MAX_BIGINT, AdminUser
from vitaltrust.auth.users import get_user, get_user_by_email
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn
from vitaltrust.monitoring import deliveries

router = APIRouter()
TAGS: list[Any] = ["deliveries"]
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SourceParam = Annotated[str | None, Query(pattern=SOURCE_PATTERN, description="Source name.")]


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(pattern=SOURCE_PATTERN)
    external_user_id: str = Field(min_length=1, max_length=200)
    user_id: int | None = Field(default=None, ge=1, le=MAX_BIGINT)
    email: str | None = Field(default=None, min_length=3, max_length=320)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(422, "since needs a time zone, e.g. 2026-01-31T12:00:00Z.")
    return value


@router.get("/api/admin/webhook-events/summary", tags=TAGS)
async def summary(conn: DbConn, principal: AdminUser,
                  since: Annotated[datetime | None, Query(
                      description="Counts from this time (ISO 8601); all kept minutes when "
                                  "omitted.")] = None) -> dict[str, Any]:
    """Per source: received = processed + unmatched + ignored + failed + queued; duplicates,
    rejected and rate-limited deliveries (never stored) apart."""
    return await deliveries.summary(conn, _aware(since))


@router.get("/api/admin/webhook-events/unmatched-accounts", tags=TAGS)
async def unmatched_accounts(conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    """Provider accounts nobody linked, with how many unmatched events wait for each."""
    return {"rows": await deliveries.unmatched_accounts(conn)}


@router.post("/api/admin/webhook-events/link-account", tags=TAGS)
async def link_account(conn: DbConn, principal: AdminUser, body: LinkRequest) -> dict[str, Any]:
    """Link a provider account to a user (by id or e-mail) and reprocess just the events
    that waited for it."""
    if (body.user_id is None) == (body.email is None):
        raise Problem(422, "Give either user_id or email.")
    user = (await get_user(conn, body.user_id) if body.user_id is not None
            else await get_user_by_email(conn, body.email or ""))
    if user is None:
        raise Problem(404, "There is no such user.")
    try:
        linked, requeued = await deliveries.link_account(
            conn, source=body.source, account=body.external_user_id, user_id=user.user_id)
    except LookupError as exc:
        raise Problem(409 if "already linked" in str(exc) else 404, str(exc) + ".") from exc
    await record_audit(conn, principal, "sources.link_account",
                       f"{body.source}:{body.external_user_id}",
                       {"user_id": user.user_id, "linked": linked, "reprocessed": requeued}, "ok")
    return {"source": body.source, "external_user_id": body.external_user_id,
            "user_id": user.user_id, "linked": linked, "reprocessed": requeued}


@router.get("/api/admin/webhook-events", tags=TAGS)
async def list_events(
    conn: DbConn, principal: AdminUser, source: SourceParam = None,
    status: Annotated[deliveries.EventStatus | None, Query(
        description="received (still queued), processed, unmatched, ignored or failed.")] = None,
    since: Annotated[datetime | None, Query(description="Received at or after.")] = None,
    event: Annotated[int | None, Query(ge=1, le=MAX_BIGINT, description="One event id.")] = None,
    after: Annotated[int | None, Query(ge=1, le=MAX_BIGINT, description="Keyset cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=deliveries.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Stored deliveries newest first; `next_after` pages on."""
    return await deliveries.list_events(conn, status=status, source=source, since=_aware(since),
                                        event=event, after=after, limit=limit)


@router.get("/api/admin/webhook-events/{event_id}", tags=TAGS)
async def get_event(conn: DbConn, principal: AdminUser, event_id: int) -> dict[str, Any]:
    """One delivery: the body pretty-printed, what the adapter reads from it, the samples
    stored, the rejections with reasons and which accounts are linked."""
    found = None if not 1 <= event_id <= MAX_BIGINT else await deliveries.event_detail(
        conn, event_id)
    if found is None:
        raise Problem(404, f"There is no delivery {event_id}.")
    return found


@router.post("/api/admin/webhook-events/{event_id}/reprocess", tags=TAGS)
async def reprocess(conn: DbConn, principal: AdminUser, event_id: int) -> dict[str, Any]:
    """Process this delivery again (its previous outcome leaves the counts)."""
    if not 1 <= event_id <= MAX_BIGINT or await deliveries.event_detail(conn, event_id) is None:
        raise Problem(404, f"There is no delivery {event_id}.")
    n = await deliveries.requeue(conn, [event_id], force=True)
    if n == 0:
        raise Problem(409, f"Delivery {event_id} is still queued; it will be processed.")
    await record_audit(conn, principal, "webhook_events.reprocess", str(event_id), {}, "ok")
    return {"webhook_event_id": event_id, "requeued": True}
