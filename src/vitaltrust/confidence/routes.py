"""Confidence API: the full explanation of one (user, metric) score."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from vitaltrust.auth.principal import (
    bearer_token,
    optional_principal,
    require_user,
    user_id_in_range,
)
from vitaltrust.confidence.cache import load_inputs
from vitaltrust.confidence.model import score
from vitaltrust.db import Conn
from vitaltrust.http import DbConn, read_only
from vitaltrust.metrics.catalog import get_spec
from vitaltrust.metrics.read import token_visible_cached_confidence, visible_cached_confidence

router = APIRouter(tags=["confidence"])


async def _cached_for_caller(request: Request, conn: Conn, user_id: int, metric: str
                             ) -> dict[str, Any] | None:
    """Authentication, access check and cache read: one statement for a bearer token (the
    hot path, so the caller is not a route dependency), two for a session."""
    token = bearer_token(request)
    if token is not None and user_id_in_range(user_id):
        return await token_visible_cached_confidence(conn, token, user_id, metric)
    principal = await require_user(await optional_principal(request, conn))
    return await visible_cached_confidence(conn, principal, user_id, metric)


@router.get("/api/users/{user_id}/metrics/{metric}/confidence", response_model=None)
@read_only
async def user_confidence(user_id: int, metric: str, request: Request, conn: DbConn
                          ) -> JSONResponse:
    """Score, level, every component with its reasons. From the cache; computed on the
    spot (and marked `cached: false`) when the queue has not produced it yet."""
    cached = await _cached_for_caller(request, conn, user_id, metric)
    spec = await get_spec(conn, metric)
    head = {"user_id": user_id, "metric": metric, "display_name": spec.display_name,
            "unit": spec.canonical_unit}
    if cached is not None:
        # plain JSON types already: skip FastAPI's encoder pass (this is the hot lookup)
        return JSONResponse({**head, **cached})
    now = datetime.now(UTC)
    pair = (user_id, metric)
    windows, priorities = await load_inputs(conn, [pair], now, lock=False)
    window = windows[pair]
    conf = score(window.samples, spec, now, priorities.get(pair))
    return JSONResponse({
        **head, "score": conf.score, "level": conf.level, "latest_value": conf.latest_value,
        "last_sample_at": conf.last_sample_at.isoformat() if conf.last_sample_at else None,
        "sample_count": conf.sample_count, "computed_at": conf.computed_at.isoformat(),
        "next_refresh_at": None, "data_version": window.data_version,
        "model_version": conf.model_version, "explanation": conf.explanation(),
        "cached": False})
