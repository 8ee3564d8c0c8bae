"""Confidence API: the full explanation of one (user, metric) score."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vitaltrust.auth.principal import CurrentUser, ensure_can_see_user
from vitaltrust.confidence.cache import load_inputs
from vitaltrust.confidence.model import score
from vitaltrust.http import DbConn
from vitaltrust.metrics.catalog import get_spec
from vitaltrust.metrics.read import cached_confidence

router = APIRouter(tags=["confidence"])


@router.get("/api/users/{user_id}/metrics/{metric}/confidence", response_model=None)
async def user_confidence(user_id: int, metric: str, conn: DbConn, principal: CurrentUser
                          ) -> JSONResponse:
    """Score, level, every component with its reasons. From the cache; computed on the
    spot (and marked `cached: false`) when the queue has not produced it yet."""
    await ensure_can_see_user(conn, principal, user_id)
    spec = await get_spec(conn, metric)
    head = {"user_id": user_id, "metric": metric, "display_name": spec.display_name,
            "unit": spec.canonical_unit}
    cached = await cached_confidence(conn, user_id, metric)
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
