"""Announcing an alert transition (or a test): the event row and its deliveries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from vitaltrust.alerts import sql
from vitaltrust.alerts.rules import Rule, State
from vitaltrust.config import Settings, public_base_url
from vitaltrust.db import Conn


def alert_payload(rule: Rule, event: str, state: State, at: datetime, settings: Settings,
                  *, test: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": rule.name, "title": rule.title, "severity": rule.severity,
        "status": event, "value": state.value, "threshold": state.threshold,
        "message": state.message,
        "fired_at": state.fired_at.isoformat() if state.fired_at else None,
        "resolved_at": at.isoformat() if event == "resolved" else None,
        "dashboard_url": public_base_url(settings) + "/admin",
    }
    if test:
        data["test"] = True
    return {"type": f"alert.{event}", "timestamp": at.isoformat(), "data": data}


async def emit_alert(conn: Conn, rule: Rule, event: str, state: State, at: datetime,
                     settings: Settings, *, destination_id: int | None = None,
                     test: bool = False, via: str | None = None) -> tuple[int, int]:
    """The message to destinations (and subscriptions); returns (event_id, deliveries)."""
    payload = alert_payload(rule, event, state, at, settings, test=test)
    row = await (await conn.execute(sql.EMIT_ALERT, {
        "type": payload["type"], "rule": rule.name, "payload": json.dumps(payload),
        "via": via or ("direct" if rule.liveness else "queue"),
        "destination_id": destination_id, "test": test,
    })).fetchone()
    assert row is not None
    return int(row["event_id"]), int(row["deliveries"])
