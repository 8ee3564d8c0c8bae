"""Per-user source priority overrides (device types, highest first) per metric."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vitaltrust.confidence.types import MetricSpec
from vitaltrust.db import Conn
from vitaltrust.metrics.types import DEVICE_TYPES

SELECT_PRIORITY = """
SELECT priority, updated_by, updated_at FROM user_source_priorities
WHERE user_id = %s AND metric = %s
"""
UPSERT_PRIORITY = """
INSERT INTO user_source_priorities (user_id, metric, priority, updated_by, updated_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (user_id, metric) DO UPDATE SET
    priority = EXCLUDED.priority, updated_by = EXCLUDED.updated_by, updated_at = now()
"""
DELETE_PRIORITY = "DELETE FROM user_source_priorities WHERE user_id = %s AND metric = %s"


class PriorityError(ValueError):
    """An override that is not a list of distinct known device types."""


@dataclass(frozen=True)
class Priority:
    metric: str
    priority: list[str]        # what resolution uses now
    default: list[str]         # the metric's default order
    overridden: bool
    updated_by: int | None = None
    updated_at: datetime | None = None


def validate_priority(order: Sequence[str]) -> list[str]:
    if not order:
        raise PriorityError("priority must name at least one device type")
    unknown = [d for d in order if d not in DEVICE_TYPES]
    if unknown:
        raise PriorityError(f"unknown device type {unknown[0]!r}; known: {', '.join(DEVICE_TYPES)}")
    if len(set(order)) != len(order):
        raise PriorityError("priority lists a device type twice")
    return list(order)


async def get_priority(conn: Conn, user_id: int, spec: MetricSpec) -> Priority:
    row = await (await conn.execute(SELECT_PRIORITY, (user_id, spec.metric))).fetchone()
    default = list(spec.default_priority)
    if row is None:
        return Priority(spec.metric, default, default, False)
    return Priority(spec.metric, list(row["priority"]), default, True, row["updated_by"],
                    row["updated_at"])


async def set_priority(conn: Conn, user_id: int, spec: MetricSpec, order: Sequence[str] | None,
                       *, updated_by: int | None) -> Priority:
    """Store the override (None or [] resets to the default) and return the new state."""
    if order:
        await conn.execute(UPSERT_PRIORITY, (user_id, spec.metric, validate_priority(order),
                                             updated_by))
    else:
        await conn.execute(DELETE_PRIORITY, (user_id, spec.metric))
    return await get_priority(conn, user_id, spec)
