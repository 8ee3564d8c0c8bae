"""Cached confidence rows for page and API tests (the pipeline itself runs in the browser tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from vitaltrust.db import Conn

INSERT_CACHE = """
INSERT INTO metric_confidence_cache (user_id, metric, score, level, components, explanation,
    sample_count, last_sample_at, latest_value, computed_at, model_version, daily_series)
VALUES (%s, %s, %s, %s, '[]', %s, %s, %s, %s, now(), '1', %s)
"""


async def cache_row(conn: Conn, user_id: int, metric: str, score: float, level: str, *,
                    latest: float = 80.0, days: int = 5) -> None:
    now = datetime.now(UTC)
    series = [[(now - timedelta(days=d)).date().isoformat(), latest + d * 0.1]
              for d in range(days, 0, -1)]
    explanation = {"score": score, "level": level, "components": [], "reasons": []}
    await conn.execute(INSERT_CACHE, (user_id, metric, score, level, json.dumps(explanation),
                                      days, now - timedelta(hours=2), latest, json.dumps(series)))


async def assign(conn: Conn, trainer_id: int, client_id: int) -> None:
    await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)",
                       (client_id, trainer_id))
