"""GET /metrics: Prometheus text built from small aggregates, cached for a few seconds.

A scrape never counts a large table: queue depth counts only pending/processing/failed
rows (partial indexes), durations and webhook outcomes come from the cumulative totals
the statistics flush maintains, and confidence levels from the scheduler's snapshot.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from typing import Any

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vitaltrust.auth.principal import bearer_token, optional_principal
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.errors import Problem
from vitaltrust.monitoring import queries
from vitaltrust.monitoring.stats import DURATION_BOUNDS_MS

LEVELS = ("excellent", "good", "fair", "poor", "insufficient")
WEBHOOK_OUTCOMES = ("received", "duplicates", "rejected", "rate_limited", "processed",
                    "unmatched", "ignored", "failed", "needs_pull")
# function name in the rollups -> histogram family name
DURATION_FAMILIES = {
    "job-worker": ("vitaltrust_job_duration_seconds", "Duration of each job run (all types)."),
    "webhook-ingest": ("vitaltrust_webhook_ingest_duration_seconds",
                       "Duration of each webhook request, verification to reply."),
    "webhook-to-confidence": ("vitaltrust_webhook_to_confidence_seconds",
                              "Receipt of a delivery to the confidence cache write reflecting it."),
}


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self._families)


def _histogram(name: str, help_text: str, hist: list[int], total_ms: float
               ) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound_ms, count in zip(DURATION_BOUNDS_MS, hist, strict=False):
        running += count
        buckets.append((repr(bound_ms / 1000), running))
    buckets.append(("+Inf", sum(hist)))
    family = HistogramMetricFamily(name, help_text)
    family.add_metric([], buckets, total_ms / 1000)
    return family


async def _rows(conn: Conn, query: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(query)).fetchall()]


async def collect_families(conn: Conn) -> list[Metric]:
    depth = GaugeMetricFamily("vitaltrust_job_queue_depth",
                              "Jobs pending, processing or failed, by type.",
                              labels=["job_type", "status"])
    for r in await _rows(conn, queries.PROM_QUEUE_DEPTH):
        depth.add_metric([r["job_type"], r["status"]], r["n"])
    families: list[Metric] = [depth]

    calls = CounterMetricFamily("vitaltrust_function_invocations",
                                "Calls of each function since install.", labels=["function"])
    errors = CounterMetricFamily("vitaltrust_function_errors",
                                 "Failed calls of each function since install.",
                                 labels=["function"])
    for r in await _rows(conn, queries.PROM_FUNCTION_TOTALS):
        calls.add_metric([r["function_name"]], r["invocations"])
        errors.add_metric([r["function_name"]], r["errors"])
        described = DURATION_FAMILIES.get(r["function_name"])
        if described:
            families.append(_histogram(*described, list(r["hist"]), r["total_ms"]))
    families += [calls, errors]

    deliveries = CounterMetricFamily("vitaltrust_webhook_deliveries",
                                     "Webhook deliveries by source and outcome since install.",
                                     labels=["source", "outcome"])
    for r in await _rows(conn, queries.PROM_WEBHOOK_TOTALS):
        for outcome in WEBHOOK_OUTCOMES:
            deliveries.add_metric([r["source"], outcome], r[outcome])
    families.append(deliveries)

    levels = GaugeMetricFamily("vitaltrust_confidence_level_count",
                               "User-metrics at each confidence level (latest snapshot).",
                               labels=["metric", "level"])
    age = GaugeMetricFamily("vitaltrust_confidence_snapshot_age_seconds",
                            "Age of the confidence snapshot behind the level counts.")
    oldest = 0.0
    for r in await _rows(conn, queries.PROM_CONFIDENCE):
        for level in LEVELS:
            levels.add_metric([r["metric"], level], r[level])
        oldest = max(oldest, float(r["age_seconds"]))
    age.add_metric([], oldest)
    families += [levels, age]

    workers = (await _rows(conn, queries.PROM_WORKERS))[0]
    alive = GaugeMetricFamily("vitaltrust_workers_alive",
                              "Worker processes that heartbeated within 3 intervals.")
    alive.add_metric([], workers["alive"])
    leader = GaugeMetricFamily("vitaltrust_scheduler_leader_present",
                               "1 when a live worker holds the scheduler leadership.")
    leader.add_metric([], 1 if workers["leaders"] else 0)
    families += [alive, leader]
    from vitaltrust.alerts.metrics import alert_families

    families += await alert_families(conn)
    return families


def render(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry)


async def _authorize(request: Request, conn: Conn, settings: Settings) -> None:
    token = bearer_token(request)
    if settings.metrics_token and token is not None and hmac.compare_digest(
            token.encode(), settings.metrics_token.encode()):
        return
    principal = await optional_principal(request, conn)
    if principal is None:
        raise Problem(401, "Authentication required (VITALTRUST_METRICS_TOKEN or an admin).",
                      headers={"WWW-Authenticate": "Bearer"})
    if not principal.is_admin:
        raise Problem(403, "Metrics need an admin account or the metrics token.")


def _cache(request: Request) -> dict[str, Any]:
    state = request.app.state
    if not hasattr(state, "metrics_cache"):
        state.metrics_cache = {"expires": 0.0, "body": b""}
    cache: dict[str, Any] = state.metrics_cache
    return cache


async def metrics_response(request: Request, conn: Conn, settings: Settings) -> Response:
    await _authorize(request, conn, settings)
    cache = _cache(request)
    now = time.monotonic()
    if now >= cache["expires"]:
        cache["body"] = render(await collect_families(conn))
        cache["expires"] = now + settings.metrics_cache_seconds
    return Response(cache["body"], media_type=CONTENT_TYPE_LATEST)
