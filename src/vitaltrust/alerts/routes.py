"""Admin API for alerts, destinations and event subscriptions, and the /admin/alerts page.

Admins only (destinations carry secrets and point our traffic at other hosts). Every
change is audited; signing secrets are returned once, at creation. Documented in
docs/alerts.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.alerts import sql, store
from vitaltrust.alerts.secrets import OutboundConfigError
from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.pages import require_page_user
from vitaltrust.auth.principal import AdminUser, Principal
from vitaltrust.errors import Problem
from vitaltrust.http import AppSettings, DbConn

router = APIRouter()
TAGS: list[Any] = ["alerts"]
NAME = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
EVENT = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


class DestinationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=63)
    kind: str = Field(description="webhook, slack or email")
    target: str = Field(max_length=2048, description="URL (webhook, slack) or e-mail address")
    timeout_seconds: float = 10.0
    max_response_bytes: int = 65536


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=63)
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(max_length=10)
    timeout_seconds: float = 10.0
    max_response_bytes: int = 65536


def _bad(exc: OutboundConfigError) -> Problem:
    return Problem(422, str(exc))


def _missing(exc: LookupError) -> Problem:
    return Problem(404, str(exc))


@router.get("/api/admin/alerts", tags=TAGS)
async def alerts(conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    """Each rule's state and the latest 50 transitions."""
    states = [dict(r) for r in await (await conn.execute(sql.STATES)).fetchall()]
    hist = [dict(r) for r in await (await conn.execute(sql.HISTORY, {"limit": 50})).fetchall()]
    return {"states": states, "history": hist}


@router.get("/api/admin/alerts/destinations", tags=TAGS)
async def destinations(conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    return {"destinations": await store.list_destinations(conn)}


@router.post("/api/admin/alerts/destinations", tags=TAGS, status_code=201)
async def add_destination(body: DestinationIn, conn: DbConn, principal: AdminUser,
                          settings: AppSettings) -> dict[str, Any]:
    """Add a destination; a webhook's signing secret is in this reply only."""
    try:
        created = await store.add_destination(
            conn, settings, name=body.name, kind=body.kind, target=body.target,
            timeout_seconds=body.timeout_seconds, max_bytes=body.max_response_bytes)
    except OutboundConfigError as exc:
        raise _bad(exc) from exc
    await record_audit(conn, principal, "alerts.destination_add", body.name,
                       {"kind": body.kind}, "ok")
    return {"id": created.id, "name": created.name, "kind": body.kind, "secret": created.secret}


@router.delete("/api/admin/alerts/destinations/{name}", tags=TAGS, status_code=204)
async def remove_destination(name: NAME, conn: DbConn, principal: AdminUser) -> Response:
    try:
        await store.remove_destination(conn, name)
    except LookupError as exc:
        raise _missing(exc) from exc
    await record_audit(conn, principal, "alerts.destination_remove", name, None, "ok")
    return Response(status_code=204)


@router.post("/api/admin/alerts/destinations/{name}/test", tags=TAGS, status_code=202)
async def test_destination(name: NAME, conn: DbConn, principal: AdminUser,
                           settings: AppSettings) -> dict[str, Any]:
    """Queue a test alert to this destination; its outcome shows in the delivery log."""
    try:
        event_id = await store.send_test(conn, settings, name)
    except LookupError as exc:
        raise _missing(exc) from exc
    await record_audit(conn, principal, "alerts.destination_test", name, None, "ok")
    return {"queued": True, "event_id": event_id}


@router.get("/api/admin/alerts/destinations/{name}/deliveries", tags=TAGS)
async def destination_deliveries(name: NAME, conn: DbConn, principal: AdminUser
                                 ) -> dict[str, Any]:
    try:
        return {"deliveries": await store.destination_log(conn, name)}
    except LookupError as exc:
        raise _missing(exc) from exc


@router.get("/api/admin/events/subscriptions", tags=TAGS)
async def subscriptions(conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    return {"subscriptions": await store.list_subscriptions(conn)}


@router.post("/api/admin/events/subscriptions", tags=TAGS, status_code=201)
async def add_subscription(body: SubscriptionIn, conn: DbConn, principal: AdminUser,
                           settings: AppSettings) -> dict[str, Any]:
    """Subscribe a URL to event types; the signing secret is in this reply only."""
    try:
        created = await store.add_subscription(
            conn, settings, name=body.name, url=body.url, event_types=body.event_types,
            timeout_seconds=body.timeout_seconds, max_bytes=body.max_response_bytes)
    except OutboundConfigError as exc:
        raise _bad(exc) from exc
    await record_audit(conn, principal, "events.subscription_add", body.name,
                       {"event_types": body.event_types}, "ok")
    return {"id": created.id, "name": created.name, "secret": created.secret}


@router.delete("/api/admin/events/subscriptions/{name}", tags=TAGS, status_code=204)
async def remove_subscription(name: NAME, conn: DbConn, principal: AdminUser) -> Response:
    try:
        await store.remove_subscription(conn, name)
    except LookupError as exc:
        raise _missing(exc) from exc
    await record_audit(conn, principal, "events.subscription_remove", name, None, "ok")
    return Response(status_code=204)


@router.get("/api/admin/events/subscriptions/{name}/deliveries", tags=TAGS)
async def subscription_deliveries(name: NAME, conn: DbConn, principal: AdminUser
                                  ) -> dict[str, Any]:
    try:
        return {"deliveries": await store.subscription_log(conn, name)}
    except LookupError as exc:
        raise _missing(exc) from exc


@router.post("/api/admin/events/{event}/replay", tags=TAGS, status_code=202)
async def replay(event: EVENT, conn: DbConn, principal: AdminUser) -> dict[str, Any]:
    """Deliver one event again (same webhook-id) to the subscriptions that want its type."""
    try:
        n = await store.replay(conn, event)
    except LookupError as exc:
        raise _missing(exc) from exc
    await record_audit(conn, principal, "events.replay", event, {"deliveries": n}, "ok")
    return {"deliveries": n}


AdminPage = Annotated[Principal | Response, Depends(require_page_user("admin"))]


@router.get("/admin/alerts", response_model=None, include_in_schema=False)
async def alerts_page(gate: AdminPage) -> Response:
    from vitaltrust.web.pages import nav, render

    if isinstance(gate, Response):
        return gate
    return render("alerts.html", title="Alerts", principal=gate, script="alerts.js",
                  nav=nav(gate, "/admin/alerts"))
