"""`GET /api/admin/demo`: the demo simulator's counters (admin only; exists in demo mode only).

`accepted` counts new deliveries (202, or a Garmin 200), each of which created one webhook_events row, so an
operator can check that every demo row came through POST /webhooks/{source}.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vitaltrust.auth.principal import AdminUser

router = APIRouter(tags=["demo"])


@router.get("/api/admin/demo")
async def demo_status(request: Request, principal: AdminUser) -> dict[str, Any]:
    """Deliveries the simulator made and how the server answered them."""
    simulator = request.app.state.demo
    return dict(simulator.counters.snapshot())
