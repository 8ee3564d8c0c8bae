"""Managing webhook sources as an operator does: rotate a secret with an overlap, disable
and enable, list with each source's URL and recent traffic. Shared by the CLI and the
admin API; the caller owns the transaction. Stored secrets never leave this module.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from vitaltrust.auth.users import UserError
from vitaltrust.db import Conn, fetch_all
from vitaltrust.ingest.sources import Source, get_source, source_secret

DEFAULT_OVERLAP = "24h"
MAX_OVERLAP_SECONDS = 30 * 86400
OVERLAP_SHAPE = re.compile(r"^\s*(\d{1,7})\s*([smhd]?)\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TOKEN_MASK = "****"  # noqa: S105 - shown instead of a token

# The previous secret is kept only when the overlap is positive; a second rotation within
# an overlap replaces it (only the secret just replaced stays valid).
ROTATE = """
UPDATE webhook_sources SET
    previous_signing_key = CASE WHEN %(overlap)s > 0 THEN signing_key END,
    previous_shared_secret_hash = CASE WHEN %(overlap)s > 0 THEN shared_secret_hash END,
    previous_expires_at = CASE WHEN %(overlap)s > 0
                               THEN now() + make_interval(secs => %(overlap)s) END,
    signing_key = %(signing_key)s,
    shared_secret_hash = %(shared_secret_hash)s,
    secret_rotated_at = now()
WHERE name = %(name)s AND kind <> 'manual' AND NOT is_sandbox
RETURNING previous_expires_at
"""
SET_ENABLED = """
UPDATE webhook_sources SET enabled = %(enabled)s
WHERE name = %(name)s AND kind <> 'manual' AND NOT is_sandbox
RETURNING source_id
"""
# Self-test sandboxes and the built-in manual source are not operators' sources.
LIST_SOURCES = """
SELECT s.name, s.kind, s.enabled, s.created_at, s.secret_rotated_at,
       CASE WHEN s.previous_expires_at > now() THEN s.previous_expires_at END
           AS previous_secret_valid_until,
       s.garmin_client_id,
       (SELECT max(e.received_at) FROM webhook_events e WHERE e.source_id = s.source_id)
           AS last_delivery_at,
       coalesce(w.received, 0) AS received_24h, coalesce(w.duplicates, 0) AS duplicates_24h,
       coalesce(w.rejected, 0) AS rejected_24h, coalesce(w.rate_limited, 0) AS rate_limited_24h,
       coalesce(w.processed, 0) AS processed_24h, coalesce(w.failed, 0) AS failed_24h
FROM webhook_sources s
LEFT JOIN LATERAL (
    SELECT sum(m.received)::bigint AS received, sum(m.duplicates)::bigint AS duplicates,
           sum(m.rejected)::bigint AS rejected, sum(m.rate_limited)::bigint AS rate_limited,
           sum(m.processed)::bigint AS processed, sum(m.failed)::bigint AS failed
    FROM webhook_stats_minute m
    WHERE m.source_id = s.source_id AND m.bucket > now() - interval '24 hours'
) w ON true
WHERE s.kind <> 'manual' AND NOT s.is_sandbox
ORDER BY s.name
"""


@dataclass(frozen=True)
class SourceRow:
    name: str
    kind: str
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_valid_until: datetime | None
    garmin_client_id: str | None
    last_delivery_at: datetime | None
    received_24h: int
    duplicates_24h: int
    rejected_24h: int
    rate_limited_24h: int
    processed_24h: int
    failed_24h: int


def parse_overlap(text: str) -> int:
    """`24h`, `30m`, `90s`, `2d` or `0` → seconds (at most 30 days)."""
    match = OVERLAP_SHAPE.match(text)
    if match is None or (not match.group(2) and int(match.group(1)) != 0):
        raise UserError(f"overlap must look like 24h, 30m, 90s, 2d or 0, not {text!r}")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]
    if seconds > MAX_OVERLAP_SECONDS:
        raise UserError("overlap must be at most 30 days")
    return seconds


def webhook_url(base_url: str, name: str, kind: str, token: str | None = None) -> str:
    """The URL to register with the provider; a garmin URL carries its token (masked
    when the token is not at hand: only its digest is stored)."""
    url = f"{base_url.rstrip('/')}/webhooks/{name}"
    if kind == "garmin":
        url += f"/{token if token is not None else TOKEN_MASK}"
    return url


async def _managed(conn: Conn, name: str) -> Source:
    source = await get_source(conn, name)
    if source is None or source.kind == "manual" or source.is_sandbox:
        raise UserError(f"no source named {name!r}")
    return source


async def rotate_secret(conn: Conn, name: str, *, secret: str | None = None,
                        overlap_seconds: int) -> tuple[Source, str | None, datetime | None]:
    """Install a new secret (the provider's, or a generated one). Returns the source, the
    generated secret to show once (None when the operator supplied it) and when the
    previous secret stops working (None with no overlap)."""
    source = await _managed(conn, name)
    generated, key, digest = source_secret(source.kind, secret)
    row = await (await conn.execute(ROTATE, {
        "name": name, "overlap": overlap_seconds, "signing_key": key,
        "shared_secret_hash": digest})).fetchone()
    if row is None:
        raise UserError(f"no source named {name!r}")
    return source, generated, row["previous_expires_at"]


async def set_enabled(conn: Conn, name: str, enabled: bool) -> None:
    """Disable (webhooks then get 404; nothing stored is touched) or enable again."""
    row = await (await conn.execute(SET_ENABLED, {"name": name, "enabled": enabled})).fetchone()
    if row is None:
        raise UserError(f"no source named {name!r}")


async def list_sources(conn: Conn) -> list[SourceRow]:
    return await fetch_all(conn, LIST_SOURCES, None, SourceRow)


def source_json(row: SourceRow, base_url: str) -> dict[str, Any]:
    """One source for `sources list --json` and the admin API (never a secret)."""
    out = asdict(row)
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    out["webhook_url"] = webhook_url(base_url, row.name, row.kind)
    return out
