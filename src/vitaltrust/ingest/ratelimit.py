"""Per-source and per-account rate limits (GCRA), decided in PostgreSQL.

State is shared by every API process (table rate_limit_state). Concurrent checks are
grouped: one call of `ingest_rate_limit_take` decides a whole batch atomically, on a
pooled autocommit connection of its own, so a limit check never joins (or slows) the
durable commit of a delivery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from vitaltrust.db import Conn
from vitaltrust.ingest.batcher import MicroBatcher
from vitaltrust.ingest.sources import Source

TAKE = """
SELECT idx, allowed, retry_after, src_remaining, src_reset, acc_remaining, acc_reset
FROM ingest_rate_limit_take(%s::text[], %s::float8[], %s::int[], %s::text[], %s::float8[],
                            %s::int[])
ORDER BY idx
"""


@dataclass(frozen=True)
class RateCheck:
    source_id: int
    account: str | None
    rate: float
    burst: int
    account_rate: float
    account_burst: int

    @classmethod
    def for_source(cls, source: Source, account: str | None) -> RateCheck:
        return cls(source.source_id, account, source.rate_per_second, source.rate_burst,
                   source.account_rate_per_second, source.account_rate_burst)

    @property
    def source_key(self) -> str:
        return f"src:{self.source_id}"

    @property
    def account_key(self) -> str | None:
        return None if self.account is None else f"acct:{self.source_id}:{self.account}"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: float
    headers: dict[str, str]


def _window(burst: int, rate: float) -> int:
    return max(1, math.ceil(burst / rate))


def rate_headers(check: RateCheck, row: dict[str, object]) -> dict[str, str]:
    """IETF draft-ietf-httpapi-ratelimit-headers: policies, then the tightest current limit."""
    policies = [f'"source";q={check.burst};w={_window(check.burst, check.rate)}']
    limits = [("source", int(row["src_remaining"]),  # type: ignore[call-overload]
               float(row["src_reset"]))]  # type: ignore[arg-type]
    if check.account is not None and row["acc_remaining"] is not None:
        policies.append(f'"account";q={check.account_burst};'
                        f"w={_window(check.account_burst, check.account_rate)}")
        limits.append(("account", int(row["acc_remaining"]),  # type: ignore[call-overload]
                       float(row["acc_reset"])))  # type: ignore[arg-type]
    name, remaining, reset = min(limits, key=lambda x: x[1])
    return {"RateLimit-Policy": ", ".join(policies),
            "RateLimit": f'"{name}";r={remaining};t={math.ceil(reset)}'}


class RateLimiter:
    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self._pool = pool
        self._batcher: MicroBatcher[RateCheck, RateDecision] = MicroBatcher(
            self._take, max_wait=0.0005, max_items=128, max_in_flight=2)

    async def check(self, check: RateCheck) -> RateDecision:
        return await self._batcher.submit(check)

    async def _take(self, checks: list[RateCheck]) -> list[RateDecision]:
        params = (
            [c.source_key for c in checks], [c.rate for c in checks], [c.burst for c in checks],
            [c.account_key for c in checks], [c.account_rate for c in checks],
            [c.account_burst for c in checks],
        )
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(TAKE, params)).fetchall()
        decisions = []
        for check, row in zip(checks, rows, strict=True):
            retry = float(row["retry_after"])
            decisions.append(RateDecision(bool(row["allowed"]), retry, rate_headers(check, row)))
        return decisions
