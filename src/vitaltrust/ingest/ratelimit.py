"""Per-source and per-account rate limits (GCRA), decided in PostgreSQL.

State is shared by every API process (table rate_limit_state). Concurrent checks are
grouped: one call of `ingest_rate_limit_admit` decides a whole batch atomically, in a
transaction of its own (autocommit, no WAL flush: the table is UNLOGGED), so a limit
check never holds its bucket locks during the durable commit of a delivery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vitaltrust.ingest.sources import Source

# Sent pipelined right before the delivery insert (see events.py).
ADMIT = """
SELECT idx, allowed, retry_after, src_remaining, src_reset, acc_remaining, acc_reset
FROM ingest_rate_limit_admit(%s::text, %s::int[], %s::text[], %s::float8[], %s::int[],
                             %s::text[], %s::float8[], %s::int[])
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


def admit_params(batch: str, ords: list[int], checks: list[RateCheck]) -> tuple[object, ...]:
    """Parameters of ADMIT for `checks`, the deliveries at positions `ords` of a batch."""
    return (batch, ords,
            [c.source_key for c in checks], [c.rate for c in checks], [c.burst for c in checks],
            [c.account_key for c in checks], [c.account_rate for c in checks],
            [c.account_burst for c in checks])


def decision(check: RateCheck, row: dict[str, object]) -> RateDecision:
    return RateDecision(bool(row["allowed"]), float(row["retry_after"]),  # type: ignore[arg-type]
                        rate_headers(check, row))
