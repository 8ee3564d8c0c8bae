"""deploy/: Prometheus rules (promtool) and Grafana dashboards that reference only metrics
/metrics really exposes and view columns that really exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer_for, make_user
from tests.monitoring.activity import record_stats
from vitaltrust.db import Conn

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROM_RULES = DEPLOY / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\bvitaltrust_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
VIEWS = {"edge_function_performance", "job_processing_stats", "webhook_processing_stats",
         "data_quality_trends"}


def _targets(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    return [t for p in doc["panels"] for t in p["targets"]]


def _referenced_metrics() -> set[str]:
    found = {m for t in _targets(DEPLOY / "grafana" / "vitaltrust.json")
             for m in METRIC_NAME.findall(t["expr"])}
    rules = yaml.safe_load(PROM_RULES.read_text())
    found |= {m for g in rules["groups"] for r in g["rules"] for m in METRIC_NAME.findall(r["expr"])}
    return found


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    for args in (["check", "rules", str(PROM_RULES)],
                 ["test", "rules", str(DEPLOY / "prometheus" / "alerts.test.yml")]):
        done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_rules_cover_every_alert_rule() -> None:
    from vitaltrust.alerts.rules import RULES

    rules = yaml.safe_load(PROM_RULES.read_text())
    labelled = {r["labels"].get("rule") for g in rules["groups"] for r in g["rules"]}
    assert {r.name for r in RULES} <= labelled


async def test_every_referenced_metric_is_exposed(app_client: httpx.AsyncClient, conn: Conn) -> None:
    await conn.execute("INSERT INTO workers (worker_id, host, pid, version, concurrency, "
                       "heartbeat_seconds, is_leader) VALUES ('w', 'h', 1, 't', 1, 10, true)")
    # the duration histograms exist once their functions have run
    await record_stats(conn, calls=[("job-worker", 3.0, True), ("webhook-ingest", 1.5, True)],
                       webhooks=[])
    admin = await make_user(conn, "admin")
    r = await app_client.get("/metrics", headers=await bearer_for(conn, admin))
    assert r.status_code == 200
    exposed: set[str] = set()
    for family in text_string_to_metric_families(r.text):
        exposed.add(family.name)
        exposed.update(s.name for s in family.samples)
    referenced = _referenced_metrics()
    assert len(referenced) >= 15
    missing = sorted(m for m in referenced if m not in exposed
                     and not any(m.endswith(s) and m[:-len(s)] in exposed for s in SUFFIXES))
    assert not missing, f"dashboard/rules use metrics /metrics does not expose: {missing}"


def _runnable(sql: str) -> str:
    return re.sub(r"\$__timeFilter\(([^()]*)\)", r"(\1 > now() - interval '30 days')", sql)


async def test_postgres_dashboard_queries_run_on_the_views(conn: Conn) -> None:
    targets = _targets(DEPLOY / "grafana" / "vitaltrust-postgres.json")
    used: set[str] = set()
    for t in targets:
        sql = _runnable(t["rawSql"])
        assert "$" not in sql, sql
        used |= {v for v in VIEWS if re.search(rf"\bFROM {v}\b", sql)}
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            cur = await conn.execute(sql)  # an unknown column or view fails here
            names = [c.name for c in cur.description or []]
        if t["format"] == "time_series":
            assert names[0] == "time" and names[1] == "metric", names
    assert used == VIEWS
