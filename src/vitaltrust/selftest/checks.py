"""The five self-test checks. Each talks only to the public HTTP API (through `Api`),
returns a one-line detail when the property holds and raises CheckFailed when not.
Each uses its own metric of the sandbox user, so the checks do not disturb one another."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.types import Sample
from vitaltrust.selftest.client import Api, CheckFailed, Sandbox, sample_body

STORAGE_FLAGS = frozenset({"IMPLAUSIBLE_VALUE"})  # the rest the model derives itself
IDEMPOTENT_SENDS = 20


@dataclass(frozen=True)
class Context:
    api: Api
    sandbox: Sandbox
    deadline: float  # seconds a refresh may take


def _sample(metric: str, value: float, at: datetime, device: str) -> dict[str, Any]:
    return {"metric": metric, "value": value, "measured_at": at.isoformat(),
            "device": {"type": device}}


def _cached_with(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda c: bool(c.get("cached")) and int(c.get("sample_count") or 0) >= n


def reference(points: list[dict[str, Any]], source_ids: dict[str, int], metric: str,
              at: datetime) -> tuple[float, str]:
    """The score the model gives the stored series (as the samples API returns it)."""
    samples = []
    for p in points:
        if p["source"] not in source_ids:
            raise CheckFailed(f"unexpected source {p['source']!r} in the series")
        measured = datetime.fromisoformat(p["measured_at"])
        samples.append(Sample(float(p["value"]), measured, date.fromisoformat(p["local_date"]),
                              source_ids[p["source"]], p["device_type"], measured,
                              frozenset(p.get("flags", ())) & STORAGE_FLAGS, p["source"]))
    conf = score(samples, BUILTIN_SPECS[metric], at)
    return conf.score, conf.level


def stored_points(series: dict[str, Any]) -> list[dict[str, Any]]:
    """Every stored sample: the resolved series plus the excluded (flagged) ones."""
    seen = {(p["source"], p["measured_at"]): p for p in series["series"]}
    for p in series.get("flagged", []):
        seen.setdefault((p["source"], p["measured_at"]), p)
    return list(seen.values())


async def accuracy(ctx: Context) -> str:
    metric, now = "resting_heart_rate", datetime.now(UTC)
    # a rapid change, an outlier and a hard-implausible value, so every component counts
    values = [58, 60, 57, 59, 61, 58, 60, 82, 59, 57, 58, 200, 60, 59]
    await ctx.api.deliver(ctx.sandbox, "main", [
        _sample(metric, v, now - timedelta(days=len(values) - i, hours=-2), "ring")
        for i, v in enumerate(values)])
    cached = await ctx.api.wait_for(lambda: ctx.api.confidence(ctx.sandbox, metric),
                                    _cached_with(len(values)), ctx.deadline,
                                    f"the cache did not show {len(values)} samples")
    series = await ctx.api.samples(ctx.sandbox, metric, include="flags")
    points = stored_points(series)
    if len(points) != len(values):
        raise CheckFailed(f"{len(points)} samples stored, {len(values)} sent")
    at = datetime.fromisoformat(cached["computed_at"])
    want_score, want_level = reference(points, ctx.sandbox.source_ids(), metric, at)
    got_score, got_level = float(cached["score"]), cached["level"]
    if not math.isclose(got_score, want_score, abs_tol=1e-9) or got_level != want_level:
        raise CheckFailed(f"server {got_score} {got_level} != reference {want_score} {want_level}")
    return f"{got_score} {got_level} = reference ({len(values)} samples)"


async def cache_invalidation(ctx: Context) -> str:
    metric, now = "hrv_rmssd", datetime.now(UTC)
    await ctx.api.deliver(ctx.sandbox, "main", [
        _sample(metric, 42 + d % 3, now - timedelta(days=d), "ring") for d in range(8, 13)])
    first = await ctx.api.wait_for(lambda: ctx.api.confidence(ctx.sandbox, metric),
                                   _cached_with(5), ctx.deadline, "the cache was not filled")
    before = datetime.fromisoformat(first["computed_at"])
    started = time.monotonic()
    await ctx.api.deliver(ctx.sandbox, "main", [
        _sample(metric, 43, now - timedelta(minutes=1), "ring")])
    after = await ctx.api.wait_for(
        lambda: ctx.api.confidence(ctx.sandbox, metric),
        lambda c: bool(c.get("cached")) and datetime.fromisoformat(c["computed_at"]) > before
        and int(c["sample_count"]) == 6, ctx.deadline,
        "computed_at and sample_count did not refresh")
    took = time.monotonic() - started
    if float(after["score"]) == float(first["score"]):
        raise CheckFailed(f"score stayed {first['score']} after a fresh sample")
    return (f"refreshed in {took:.2f} s: {first['sample_count']} -> {after['sample_count']} "
            f"samples, score {first['score']} -> {after['score']}")


def _conflict_ok(scale_source: str) -> Callable[[dict[str, Any]], bool]:
    def ok(s: dict[str, Any]) -> bool:
        return any(c["winner"]["source"] == scale_source for c in s.get("conflicts", []))
    return ok


async def conflict_resolution(ctx: Context) -> str:
    metric, scale_at = "weight", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    scale_source = ctx.sandbox.sources["main"]["name"]
    await ctx.api.manual_entry(ctx.sandbox, {"metric": metric, "value": 83.0, "unit": "kg",
                                             "measured_at": (scale_at + timedelta(minutes=5))
                                             .isoformat()})
    # one write at a time: the conflict is judged, not how two racing writes are queued
    await ctx.api.wait_for(lambda: ctx.api.confidence(ctx.sandbox, metric), _cached_with(1),
                           ctx.deadline, "the manual entry did not reach the cache")
    await ctx.api.deliver(ctx.sandbox, "main", [_sample(metric, 80.0, scale_at, "scale")])
    try:
        seen = await ctx.api.wait_for(
            lambda: ctx.api.samples(ctx.sandbox, metric, include="conflicts"),
            _conflict_ok(scale_source), ctx.deadline, "no conflict won by the scale recorded")
    except CheckFailed:
        last = await ctx.api.samples(ctx.sandbox, metric, include="conflicts")
        raise CheckFailed(f"no conflict won by the scale within {ctx.deadline:g} s; "
                          f"conflicts: {last.get('conflicts')}") from None
    conflict = next(c for c in seen["conflicts"] if c["winner"]["source"] == scale_source)
    win, lose = conflict["winner"], conflict["loser"]
    problems = []
    if (win["device_type"], float(win["value"])) != ("scale", 80.0):
        problems.append(f"winner {win['device_type']} {win['value']}")
    if (lose["source"], float(lose["value"])) != ("manual", 83.0):
        problems.append(f"loser {lose['source']} {lose['value']}")
    if not math.isclose(abs(float(conflict["difference"])), 3.0, abs_tol=1e-6) or \
            conflict["agrees"]:
        problems.append(f"difference {conflict['difference']} agrees={conflict['agrees']}")
    values = sorted(float(p["value"]) for p in seen["series"])
    if values != [80.0]:
        problems.append(f"resolved series {values}")
    if problems:
        raise CheckFailed("; ".join(problems))
    return "scale 80.0 kg beat manual 83.0 kg; conflict recorded (difference 3.0 kg)"


async def rate_limiting(ctx: Context) -> str:
    src = ctx.sandbox.sources["limited"]
    burst, rate = int(src["rate_burst"]), float(src["rate_per_second"])
    sends = burst * 3
    now = datetime.now(UTC)
    requests = []
    for i in range(sends):
        body = sample_body(ctx.sandbox.external_user_id,
                           [_sample("steps", 1000 + i, now - timedelta(days=i), "phone")])
        path, headers = ctx.api.signed(ctx.sandbox, "limited", body)
        requests.append(ctx.api.http.post(path, content=body, headers=headers))
    started = time.monotonic()
    answers = await asyncio.gather(*requests)
    budget = burst + math.floor(rate * (time.monotonic() - started)) + 1
    accepted = sum(1 for r in answers if r.status_code == 202)
    refused = [r for r in answers if r.status_code == 429]
    others = sorted({r.status_code for r in answers} - {202, 429})
    retry = [r.headers.get("retry-after", "") for r in refused]
    if others:
        raise CheckFailed(f"unexpected statuses {others}")
    if not refused:
        raise CheckFailed(f"{sends} deliveries against a burst of {burst}: none refused with 429")
    if not all(v.isdigit() and int(v) >= 1 for v in retry):
        raise CheckFailed(f"429 without a valid Retry-After: {sorted(set(retry))}")
    if not 1 <= accepted <= budget:
        raise CheckFailed(f"{accepted} accepted, budget {budget}")
    waits = sorted({int(v) for v in retry})
    shown = f"{waits[0]}" if len(waits) == 1 else f"{waits[0]}-{waits[-1]}"
    return (f"{accepted} accepted (budget {budget}), {len(refused)} refused with 429, "
            f"Retry-After {shown} s")


async def idempotency(ctx: Context) -> str:
    metric, now = "spo2", datetime.now(UTC).replace(microsecond=0)
    samples = [_sample(metric, v, now - timedelta(hours=h), "ring")
               for h, v in ((3, 97.0), (2, 98.0), (1, 96.0))]
    body = sample_body(ctx.sandbox.external_user_id, samples)
    event_id = f"selftest-idem-{uuid.uuid4().hex}"
    path, headers = ctx.api.signed(ctx.sandbox, "main", body, event_id)
    answers = await asyncio.gather(*(ctx.api.http.post(path, content=body, headers=headers)
                                     for _ in range(IDEMPOTENT_SENDS)))
    codes = sorted(r.status_code for r in answers)
    if codes != [200] * (IDEMPOTENT_SENDS - 1) + [202]:
        raise CheckFailed(f"statuses {dict((c, codes.count(c)) for c in set(codes))}, "
                          "expected one 202 and the rest 200")
    ids = {r.json().get("webhook_event_id") for r in answers}
    if len(ids) != 1:
        raise CheckFailed(f"{len(ids)} different webhook_event_ids for one delivery")

    async def mine() -> list[dict[str, Any]]:
        return [e for e in await ctx.api.events(ctx.sandbox) if e["event_id"] == event_id]

    events = await ctx.api.wait_for(mine, lambda es: bool(es) and all(
        e["status"] == "processed" for e in es), ctx.deadline, "the event was not processed")
    stored = (await ctx.api.samples(ctx.sandbox, metric))["stored_count"]
    if len(events) != 1 or events[0]["sample_count"] != len(samples) or stored != len(samples):
        raise CheckFailed(f"{len(events)} events, {stored} samples stored "
                          f"(expected 1 and {len(samples)})")
    return f"{IDEMPOTENT_SENDS} sends -> 1 event, {stored} samples"


CHECKS: dict[str, Callable[[Context], Awaitable[str]]] = {
    "accuracy": accuracy,
    "cache-invalidation": cache_invalidation,
    "conflict-resolution": conflict_resolution,
    "rate-limiting": rate_limiting,
    "idempotency": idempotency,
}
