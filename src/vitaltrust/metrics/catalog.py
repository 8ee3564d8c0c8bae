"""The metric catalog (metric_catalog rows) as MetricSpec objects.

The catalog is migration data that never changes while a process runs, so it is read
once per process and kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitaltrust.confidence.types import MetricSpec
from vitaltrust.db import Conn
from vitaltrust.errors import Problem

SELECT_CATALOG = """
SELECT metric, display_name, canonical_unit, aggregation, cadence, conflict_window,
       hard_min, hard_max, tolerance_abs, tolerance_rel, measurement_error,
       default_priority, reliability
FROM metric_catalog ORDER BY sort_order
"""

_specs: dict[str, MetricSpec] | None = None


def spec_from_row(row: Mapping[str, Any]) -> MetricSpec:
    return MetricSpec(
        metric=row["metric"], display_name=row["display_name"],
        canonical_unit=row["canonical_unit"], aggregation=row["aggregation"],
        cadence=row["cadence"], conflict_window=row["conflict_window"],
        hard_min=float(row["hard_min"]), hard_max=float(row["hard_max"]),
        tolerance_abs=row["tolerance_abs"], tolerance_rel=row["tolerance_rel"],
        measurement_error=float(row["measurement_error"]),
        default_priority=tuple(row["default_priority"]),
        reliability={k: float(v) for k, v in row["reliability"].items()},
    )


async def load_specs(conn: Conn) -> dict[str, MetricSpec]:
    """Every metric's spec, in display order (read from the database once per process)."""
    global _specs
    if _specs is None:
        rows = await (await conn.execute(SELECT_CATALOG)).fetchall()
        _specs = {r["metric"]: spec_from_row(r) for r in rows}
    return _specs


async def get_spec(conn: Conn, metric: str) -> MetricSpec:
    """The spec of `metric`, or a 404 problem for a code that is not in the catalog."""
    spec = (await load_specs(conn)).get(metric)
    if spec is None:
        raise Problem(404, f"No metric {metric!r}.")
    return spec
