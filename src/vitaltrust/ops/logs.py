"""`vitaltrust logs`: read `edge_function_logs` like a function-logs command, one line per entry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vitaltrust.db import Conn, fetch_all

FUNCTIONS = ("job-worker", "webhook-ingest")
LEVELS = ("debug", "info", "warning", "error")


_SINCE = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# Newest first (the index on created_at), then shown oldest first.
SELECT_LOGS = """
SELECT l.id, l.created_at, l.function_name, l.level, l.event, l.message, l.job_id, l.job_type,
       l.attempts, l.error, l.webhook_event_id, s.name AS source
FROM edge_function_logs l
LEFT JOIN webhook_sources s ON s.source_id = (l.payload_summary ->> 'source_id')::int
WHERE (%(function)s::text IS NULL OR l.function_name = %(function)s)
  AND l.level = ANY(%(levels)s)
  AND (%(since)s::interval IS NULL OR l.created_at >= now() - %(since)s::interval)
ORDER BY l.created_at DESC, l.id DESC
LIMIT %(limit)s
"""
# --follow: entries after the last one shown, in insertion order.
SELECT_NEWER = """
SELECT l.id, l.created_at, l.function_name, l.level, l.event, l.message, l.job_id, l.job_type,
       l.attempts, l.error, l.webhook_event_id, s.name AS source
FROM edge_function_logs l
LEFT JOIN webhook_sources s ON s.source_id = (l.payload_summary ->> 'source_id')::int
WHERE l.id > %(after)s AND l.id <= %(upto)s
  AND (%(function)s::text IS NULL OR l.function_name = %(function)s)
  AND l.level = ANY(%(levels)s)
ORDER BY l.id
"""


@dataclass(frozen=True)
class LogEntry:
    id: int
    created_at: datetime
    function_name: str
    level: str
    event: str
    message: str | None
    job_id: int | None
    job_type: str | None
    attempts: int | None
    error: str | None
    webhook_event_id: int | None
    source: str | None = None  # the webhook source's name, for ingestion entries

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat()
        return out


def parse_duration(text: str, option: str = "--since") -> timedelta:
    """'30m', '1h', '2d', '45s', '1w' -> timedelta; anything else is a ValueError."""
    m = _SINCE.match(text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{option} must be a positive number with s, m, h, d or w (like 30m, 1h, 2d), "
                         f"not {text!r}")
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def levels_from(minimum: str | None) -> list[str]:
    """--level is a floor: 'warning' shows warnings and errors."""
    if minimum is None:
        return list(LEVELS)
    if minimum not in LEVELS:
        raise ValueError(f"--level must be one of {', '.join(LEVELS)}, not {minimum!r}")
    return list(LEVELS[LEVELS.index(minimum):])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def format_entry(e: LogEntry) -> str:
    """time, function, level, event, ids, error: everything an operator greps for on one line."""
    parts = [e.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ"), f"{e.function_name:<14}",
             f"{e.level.upper():<7}", e.event]
    if e.job_id is not None:
        job = f"job={e.job_id}"
        if e.job_type:
            job += f" type={e.job_type}"
        if e.attempts is not None:
            job += f" attempts={e.attempts}"
        parts.append(job)
    if e.webhook_event_id is not None:
        parts.append(f"webhook_event={e.webhook_event_id}")
    if e.source is not None:
        parts.append(f"source={e.source}")
    if e.message:
        parts.append(_one_line(e.message))
    if e.error:
        parts.append("error: " + _one_line(e.error))
    return "  ".join(parts)


async def read_logs(conn: Conn, *, function: str | None, levels: list[str],
                    since: timedelta | None, limit: int = 100) -> list[LogEntry]:
    """The newest `limit` matching entries (of the last `since`, by the database's clock),
    oldest first."""
    rows = await fetch_all(conn, SELECT_LOGS, {"function": function, "levels": levels, "since": since,
                                               "limit": limit}, LogEntry)
    return rows[::-1]


async def read_newer(conn: Conn, *, after_id: int, upto_id: int, function: str | None,
                     levels: list[str]) -> list[LogEntry]:
    """Matching entries with after_id < id <= upto_id, in insertion order."""
    return await fetch_all(conn, SELECT_NEWER, {"function": function, "levels": levels,
                                                "after": after_id, "upto": upto_id}, LogEntry)


async def last_id(conn: Conn) -> int:
    row = await (await conn.execute("SELECT coalesce(max(id), 0) AS id FROM edge_function_logs")).fetchone()
    return int(row["id"]) if row else 0
