"""Prometheus families for alerting: the health signals behind the alert rules (so that
deploy/prometheus/alerts.yml judges the same numbers), each rule's state, and the
outbound delivery backlog. Appended to GET /metrics by monitoring/prometheus.py."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vitaltrust.alerts import sql
from vitaltrust.alerts.rules import RULES
from vitaltrust.db import Conn
from vitaltrust.monitoring.health import measure_health_signals

WINDOW_SECONDS = 3600  # the default VITALTRUST_ALERT_WINDOW_SECONDS

OUTBOUND_COUNTS = """
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'failed') AS failed
FROM outbound_deliveries
"""


def _gauge(name: str, help_text: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text)
    if value is not None:  # no sample rather than a made-up number (e.g. no job finished)
        family.add_metric([], value)
    return family


async def alert_families(conn: Conn) -> list[Metric]:
    s = await measure_health_signals(conn, window_seconds=WINDOW_SECONDS)
    families: list[Metric] = [
        _gauge("vitaltrust_health_pending_jobs", "Runnable and waiting jobs (not sandbox).",
               s.pending),
        _gauge("vitaltrust_health_oldest_pending_seconds",
               "How long the oldest runnable pending job has waited (0: none).",
               s.oldest_pending_seconds or 0.0),
        _gauge("vitaltrust_health_drain_rate_per_second",
               "Jobs finished per second over the last 5 minutes.", s.drain_rate_per_s),
        _gauge("vitaltrust_health_failed_job_rate_percent",
               "Jobs failed for good among finished jobs, last hour.", s.failed_rate_pct),
        _gauge("vitaltrust_health_webhook_success_percent",
               "Processed among processed + failed webhook deliveries, last hour.",
               s.webhook_success_pct),
        _gauge("vitaltrust_health_excellent_share_percent",
               "Share of cached confidence scores that are excellent.", s.excellent_share_pct),
    ]
    states = {r["rule"]: r["status"] for r in await (await conn.execute(sql.STATES)).fetchall()}
    firing = GaugeMetricFamily("vitaltrust_alert_firing",
                               "1 while vitaltrust's own alert rule is firing.",
                               labels=["rule", "severity"])
    for rule in RULES:
        firing.add_metric([rule.name, rule.severity],
                          1 if states.get(rule.name) in ("firing", "resolving") else 0)
    row = await (await conn.execute(OUTBOUND_COUNTS)).fetchone()
    outbound = GaugeMetricFamily("vitaltrust_outbound_deliveries",
                                 "Outbound deliveries (alerts, events) waiting or given up.",
                                 labels=["status"])
    for status in ("pending", "failed"):
        outbound.add_metric([status], int(row[status]) if row else 0)
    return [*families, firing, outbound]
