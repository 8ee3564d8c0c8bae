"""Admin API for webhook sources: list, create, rotate a secret, disable, enable.

The same operations as `vitaltrust sources ...`; admins only. A secret appears in a reply
only when vitaltrust generated it (once); a supplied or stored secret never does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.principal import AdminUser
from vitaltrust.auth.users import UserError
from vitaltrust.config import Settings, public_base_url
from vitaltrust.errors import Problem
from vitaltrust.http import AppSettings, DbConn
from vitaltrust.ingest.routes import runtime
from vitaltrust.ingest.source_admin import (
    DEFAULT_OVERLAP,
    list_sources,
    parse_overlap,
    rotate_secret,
    set_enabled,
    source_json,
    webhook_url,
)
from vitaltrust.ingest.sources import KINDS, create_source, get_source

router = APIRouter(tags=["admin: sources"])
SourceName = Annotated[str, Path(min_length=1, max_length=63)]


class CreateSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=63, examples=["junction-eu"])
    kind: str = Field(description=f"One of: {', '.join(KINDS)}.", examples=["junction"])
    secret: str | None = Field(default=None, max_length=512, description=(
        "The provider's signing secret (whsec_... for standard/junction, Terra's plain "
        "string); generated and returned once when omitted. Not accepted for garmin."))
    garmin_client_id: str | None = Field(default=None, max_length=255, description=(
        "garmin: the consumer key expected in the garmin-client-id header."))


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(default=None, max_length=512)
    overlap: str = Field(default=DEFAULT_OVERLAP, max_length=16, examples=["24h", "0"],
                         description="How long the old secret keeps working.")


def _base(request: Request, settings: Settings) -> str:
    return public_base_url(settings) if settings.public_url else str(request.base_url)


async def _require(conn: DbConn, name: str) -> None:
    source = await get_source(conn, name)
    if source is None or source.kind == "manual" or source.is_sandbox:
        raise Problem(404, f"No source named {name!r}.")


@router.get("/api/admin/sources")
async def get_sources(request: Request, conn: DbConn, settings: AppSettings,
                      principal: AdminUser) -> dict[str, Any]:
    """Every source with the URL to register (a garmin token masked), when it was created,
    its last delivery and the last 24 hours' counts. Never a secret."""
    base = _base(request, settings)
    return {"sources": [source_json(r, base) for r in await list_sources(conn)]}


@router.post("/api/admin/sources", status_code=201)
async def post_source(body: CreateSource, request: Request, conn: DbConn, settings: AppSettings,
                      principal: AdminUser) -> dict[str, Any]:
    """Create a source; the reply holds a generated secret or garmin URL, once."""
    if await get_source(conn, body.name) is not None:
        raise Problem(409, f"A source named {body.name!r} already exists.")
    try:
        source, shown = await create_source(conn, body.name, body.kind, secret=body.secret,
                                            garmin_client_id=body.garmin_client_id)
    except UserError as exc:
        raise Problem(422, str(exc)) from None
    generated = shown if body.secret is None else None
    runtime(request.app).sources.forget(source.name)  # a cached "no such source"
    await record_audit(conn, principal, "ingest.source.create", f"source:{source.name}",
                       {"kind": source.kind, "secret_supplied": body.secret is not None}, "ok")
    return _secret_reply(source.name, source.kind, generated, _base(request, settings))


@router.post("/api/admin/sources/{source}/rotate-secret")
async def post_rotate(source: SourceName, request: Request, conn: DbConn,
                      settings: AppSettings, principal: AdminUser,
                      body: RotateSecret | None = None) -> dict[str, Any]:
    """Install a new secret; the old one keeps working for `overlap` (default 24h)."""
    body = body or RotateSecret()
    await _require(conn, source)
    try:
        seconds = parse_overlap(body.overlap)
        row, generated, until = await rotate_secret(conn, source, secret=body.secret,
                                                    overlap_seconds=seconds)
    except UserError as exc:
        raise Problem(422, str(exc)) from None
    await record_audit(conn, principal, "ingest.source.rotate_secret", f"source:{source}",
                       {"overlap_seconds": seconds, "secret_supplied": body.secret is not None},
                       "ok")
    runtime(request.app).sources.forget(source)
    return {**_secret_reply(row.name, row.kind, generated, _base(request, settings)),
            "previous_secret_valid_until": until.isoformat() if until is not None else None}


async def _toggle(source: str, enabled: bool, request: Request, conn: DbConn,
                  principal: AdminUser) -> dict[str, Any]:
    await _require(conn, source)
    await set_enabled(conn, source, enabled)
    await record_audit(conn, principal, f"ingest.source.{'enable' if enabled else 'disable'}",
                       f"source:{source}", {}, "ok")
    runtime(request.app).sources.forget(source)
    return {"name": source, "enabled": enabled}


@router.post("/api/admin/sources/{source}/disable")
async def post_disable(source: SourceName, request: Request, conn: DbConn,
                       principal: AdminUser) -> dict[str, Any]:
    """Refuse the source's webhooks (404) from now on; everything stored is kept."""
    return await _toggle(source, False, request, conn, principal)


@router.post("/api/admin/sources/{source}/enable")
async def post_enable(source: SourceName, request: Request, conn: DbConn,
                      principal: AdminUser) -> dict[str, Any]:
    """Accept the source's webhooks again."""
    return await _toggle(source, True, request, conn, principal)


def _secret_reply(name: str, kind: str, generated: str | None, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "kind": kind,
                           "webhook_url": webhook_url(base, name, kind,
                                                      generated if kind == "garmin" else None)}
    if generated is not None and kind != "garmin":
        out["secret"] = generated
    return out
