"""Builders for model inputs: samples relative to a fixed `NOW`, in canonical units."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.types import Component, Confidence, Sample

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
WEIGHT = BUILTIN_SPECS["weight"]


def at(days_ago: float = 0.0, *, hours: float = 0.0, minutes: float = 0.0) -> datetime:
    return NOW - timedelta(days=days_ago, hours=hours, minutes=minutes)


def sample(value: float, when: datetime, *, source: int = 1, device: str = "scale",
           received: datetime | None = None, flags: Iterable[str] = (), name: str = "",
           model: str | None = None) -> Sample:
    return Sample(value=float(value), measured_at=when, local_date=when.date(), source_id=source,
                  device_type=device, received_at=received or when, flags=frozenset(flags),
                  source_name=name, device_model=model)


def daily(values: Sequence[float], *, source: int = 1, device: str = "scale", hours: float = 2.0,
          every_days: float = 1.0, model: str | None = None) -> list[Sample]:
    """values[-1] is the newest, measured `hours` before NOW; one value every `every_days`."""
    n = len(values)
    return [sample(v, at((n - 1 - i) * every_days, hours=hours), source=source, device=device,
                   model=model) for i, v in enumerate(values)]


def run(samples: Sequence[Sample], metric: str = "weight", now: datetime = NOW,
        priority: Sequence[str] | None = None) -> Confidence:
    return score(samples, BUILTIN_SPECS[metric], now, priority)


def component(conf: Confidence, code: str) -> Component:
    return next(c for c in conf.components if c.code == code)


def codes(conf: Confidence) -> list[str]:
    return [r["code"] for r in conf.reasons]


def reason(conf: Confidence, code: str) -> dict[str, object]:
    return next(r for r in conf.reasons if r["code"] == code)
