"""Login throttling in PostgreSQL, so every API process shares the counters.

Each attempt is counted *before* the password is checked, in one atomic statement for
both keys (the e-mail and the client IP), so parallel guesses cannot slip past the
limit while an argon2 verification is running. A successful login forgets the e-mail's
failures and gives its attempt back to the IP.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from vitaltrust.config import Settings
from vitaltrust.db import Conn

COUNT_ATTEMPT = """
INSERT INTO login_throttle AS t (scope, subject, window_started_at, attempts)
VALUES ('email', %(email)s, now(), 1), ('ip', %(ip)s, now(), 1)
ON CONFLICT (scope, subject) DO UPDATE SET
    window_started_at = CASE WHEN t.window_started_at <= now() - %(window)s
                             THEN now() ELSE t.window_started_at END,
    attempts = CASE WHEN t.window_started_at <= now() - %(window)s
                    THEN 1 ELSE t.attempts + 1 END
RETURNING scope, attempts,
          extract(epoch FROM t.window_started_at + %(window)s - now())::float8 AS remaining
"""
FORGIVE_SUCCESS = """
WITH cleared AS (DELETE FROM login_throttle WHERE scope = 'email' AND subject = %(email)s)
UPDATE login_throttle SET attempts = greatest(attempts - 1, 0)
WHERE scope = 'ip' AND subject = %(ip)s
"""
PURGE_EXPIRED = "DELETE FROM login_throttle WHERE window_started_at < now() - %(window)s"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds, when not allowed
    first_refusal: bool  # this attempt is the one that crossed a limit


def email_key(email: str) -> str:
    return email.strip().lower()[:320]


def ip_key(host: str | None) -> str:
    """The client address; IPv6 clients are grouped by /64 (one customer's network)."""
    if not host:
        return "unknown"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


async def count_attempt(conn: Conn, settings: Settings, *, email: str, ip: str) -> Verdict:
    window = timedelta(minutes=settings.login_window_minutes)
    rows = await (await conn.execute(
        COUNT_ATTEMPT, {"email": email, "ip": ip, "window": window})).fetchall()
    limits = {"email": settings.login_max_failures, "ip": settings.login_max_failures_per_ip}
    over = [r for r in rows if r["attempts"] > limits[r["scope"]]]
    if not over:
        return Verdict(True, 0, False)
    wait = max(1, math.ceil(max(float(r["remaining"]) for r in over)))
    first = any(r["attempts"] == limits[r["scope"]] + 1 for r in over)
    return Verdict(False, wait, first)


async def forgive_success(conn: Conn, *, email: str, ip: str) -> None:
    await conn.execute(FORGIVE_SUCCESS, {"email": email, "ip": ip})


async def purge_expired(conn: Conn, settings: Settings) -> None:
    await conn.execute(PURGE_EXPIRED, {"window": timedelta(minutes=settings.login_window_minutes)})
