"""Every SQL statement operators run from the specification runs unchanged (verbatim copies
in tests/fixtures/seed_sql.sql) on a migrated database with real activity, and returns
the rows its name promises."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import make_user
from tests.edge.support import standard_webhook
from tests.ingest.support import native_body, standard_headers
from tests.monitoring.activity import client_with_weights, record_stats, run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import enqueue

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "seed_sql.sql"
NAMED_OBJECTS = """
SELECT get_monitoring_dashboard_data() IS NOT NULL AS dashboard,
       to_regprocedure('retry_failed_jobs(text)') IS NOT NULL AS retry,
       to_regprocedure('notify_failed_job()') IS NOT NULL AS notify,
       to_regclass('edge_function_logs') IS NOT NULL AS logs,
       (SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE t.tgname = 'on_job_failure' AND p.proname = 'notify_failed_job') AS trigger,
       (SELECT count(*) FROM pg_class WHERE relname IN (
            'idx_background_jobs_status_created', 'idx_background_jobs_type_status',
            'idx_metric_confidence_cache_user_metric', 'idx_metric_confidence_cache_updated')
       ) AS indexes
"""


def statements() -> list[str]:
    chunks = FIXTURE.read_text().split("\n-- next\n")
    lines = chunks[0].splitlines()
    chunks[0] = "\n".join(line for line in lines if not line.startswith("-- ")) + "\n"
    return [c for c in chunks if c.strip()]


def test_fixture_holds_the_eight_statements() -> None:
    found = statements()
    assert len(found) == 8
    assert found[5].startswith("SELECT COUNT(*) FROM background_jobs WHERE type = ")


async def test_every_operator_statement_runs_verbatim(app_client: httpx.AsyncClient, conn: Conn,
                                                      db_url: str, settings: Settings) -> None:
    await client_with_weights(conn, days=12)  # samples, their confidence job
    user = await make_user(conn, "client")
    hook = await standard_webhook(conn, user.email)
    body = native_body()
    r = await app_client.post(f"/webhooks/{hook.name}", content=body,
                              headers=standard_headers(hook.secret, body))
    assert r.status_code == 202, r.text
    async with conn.transaction():  # a job the handler refuses: one failed job
        await enqueue(conn, "confidence_calculation", {"user_id": "x"}, max_attempts=1)
    assert await run_jobs(db_url, settings) >= 3
    await app_client.app.state.stats.flush()  # type: ignore[attr-defined]
    # the in-process runner does not time itself; a worker process counts its calls so
    await record_stats(conn, calls=[("job-worker", 12.5, True), ("job-worker", 30.0, False)])

    results: list[list[dict[str, object]]] = []
    for statement in statements():
        results.append(await (await conn.execute(statement)).fetchall())  # type: ignore[arg-type]
    enqueued, performance, conf_stats, trends, webhooks, pending, job_stats, failed = results
    assert len(enqueued) >= 2  # both clients have samples again-eligible for a calculation
    assert performance and all(r["function_name"] == "job-worker" for r in performance)
    assert conf_stats and all(r["job_type"] == "confidence_calculation" for r in conf_stats)
    assert trends and all(r["metric_name"] == "Weight" for r in trends)
    assert webhooks
    assert pending == [{"count": len(enqueued)}]
    assert {r["job_type"] for r in job_stats} >= {"confidence_calculation", "webhook_processing"}
    assert len(failed) == 1 and failed[0]["status"] == "failed"
    named = await (await conn.execute(NAMED_OBJECTS)).fetchone()
    assert named == {"dashboard": True, "retry": True, "notify": True, "logs": True,
                     "trigger": 1, "indexes": 4}
