"""The doctor's measurements against a real database, and the command's output and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import make_user
from tests.support.cli import run_cli
from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect, create_pool
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import RawSample
from vitaltrust.ops.doctor import CHECK_NAMES, run_checks
from vitaltrust.ops.judges import Check, Thresholds
from vitaltrust.queue.worker import run_until_idle

ADD_JOB = """
INSERT INTO background_jobs (type, payload, status, run_at, attempts, last_error,
                             locked_by, locked_until, failed_at)
VALUES (%s, %s, %s, now() + %s * interval '1 second', %s, %s, %s,
        CASE WHEN %s = 'processing' THEN now() + %s * interval '1 second' END,
        CASE WHEN %s = 'failed' THEN now() END)
"""
ADD_SAMPLE = """
INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value, received_at)
VALUES (%s, 'weight', 1, now() - %s * interval '1 hour', current_date, 80, now() - %s * interval '1 hour')
"""


def weight(at: datetime) -> RawSample:
    return RawSample(external_user_id="x", metric="weight", value=80.0, unit="kg", measured_at=at,
                     device_type="scale")


async def add_job(conn: Conn, job_type: str = "confidence_calculation", *, status: str = "pending",
                  payload: str = "{}", run_in: float = -1, attempts: int = 0, error: str | None = None,
                  lease_in: float = 60) -> None:
    await conn.execute(ADD_JOB, (job_type, payload, status, run_in, attempts, error,
                                 "w-test" if status != "pending" else None,
                                 status, lease_in, status))


async def checks_by_name(conn: Conn, t: Thresholds | None = None) -> dict[str, Check]:
    checks = await run_checks(conn, t or Thresholds())
    assert [c.name for c in checks] == list(CHECK_NAMES)
    return {c.name: c for c in checks}


async def test_pending_jobs_and_no_worker_fail_worker_alive(conn: Conn) -> None:
    await add_job(conn)
    await add_job(conn, run_in=3600)  # backing off: not waiting yet
    c = await checks_by_name(conn)
    assert c["a worker is alive"].status == "fail"
    assert c["a worker is alive"].data == {"live_workers": 0, "pending": 2, "pipeline_health": "critical"}
    assert c["a scheduler leader exists"].status == "warn"
    assert c["pending jobs under thresholds"].status == "pass"
    assert c["pending jobs under thresholds"].data["pending"] == 2


async def test_old_runnable_job_fails_backlog_and_many_pending_warn(conn: Conn) -> None:
    await add_job(conn, run_in=-600)
    c = await checks_by_name(conn)
    assert c["pending jobs under thresholds"].status == "fail"
    assert c["pending jobs under thresholds"].data["oldest_wait_seconds"] >= 600
    relaxed = await checks_by_name(conn, Thresholds(max_pending_age_seconds=3600, max_pending=1))
    assert relaxed["pending jobs under thresholds"].status == "warn"
    assert c["pipeline health (last hour)"].status == "fail"
    assert c["pipeline health (last hour)"].data["pipeline"]["status"] == "critical"


async def test_backlog_draining_in_time_only_warns(conn: Conn) -> None:
    """An old backlog that the workers finish fast enough is not a failure."""
    for _ in range(150):
        await add_job(conn, run_in=-600)
    await conn.execute("INSERT INTO workers (worker_id, host, pid, version, concurrency, "
                       "heartbeat_seconds, is_leader) VALUES ('w', 'h', 1, 't', 4, 10, true)")
    await conn.execute("INSERT INTO job_stats_minute (job_type, bucket, completed) "
                       "VALUES ('noop', date_trunc('minute', now()), 3000)")
    c = await checks_by_name(conn)
    assert c["pending jobs under thresholds"].status == "warn"
    assert "clears in about" in c["pending jobs under thresholds"].value
    assert c["pipeline health (last hour)"].status == "warn"


async def test_failed_jobs_by_type_with_latest_errors(conn: Conn) -> None:
    for i in range(4):
        await add_job(conn, "webhook_processing", status="failed", attempts=5, error=f"bad body {i}")
    await add_job(conn, "webhook_processing", status="failed", attempts=5, error="bad body 3")
    await add_job(conn, status="failed", attempts=5, error="no catalog entry")
    c = (await checks_by_name(conn))["failed jobs"]
    assert c.status == "warn"
    assert c.value == "webhook_processing 5, confidence_calculation 1"
    by_type = {t["job_type"]: t for t in c.data["by_type"]}
    assert by_type["webhook_processing"]["latest_errors"][0] == "bad body 3 (x2)"
    assert len(by_type["webhook_processing"]["latest_errors"]) == 3
    assert by_type["confidence_calculation"]["latest_errors"] == ["no catalog entry"]


async def test_stalled_leases(conn: Conn) -> None:
    await add_job(conn, status="processing", lease_in=60)  # healthy lease
    assert (await checks_by_name(conn))["no stalled leases"].status == "pass"
    await add_job(conn, status="processing", lease_in=-30)
    assert (await checks_by_name(conn))["no stalled leases"].status == "warn"
    await add_job(conn, status="processing", lease_in=-600)
    c = (await checks_by_name(conn))["no stalled leases"]
    assert c.status == "fail" and c.data["stalled"] == 2


async def test_confidence_cache_follows_the_real_pipeline(conn: Conn, settings: Settings) -> None:
    """Stored samples + the real confidence job keep the cache current; a sample that bypasses
    the queue makes it stale; a history backfill outside the scoring window does not."""
    name = "confidence cache no older than its samples"
    alice, bob = await make_user(conn, "client"), await make_user(conn, "client")
    now = datetime.now(UTC)
    for user in (alice, bob):
        async with conn.transaction():
            await store_samples(conn, user_id=user.user_id, source_id=1, webhook_event_id=None,
                                samples=[weight(now - timedelta(hours=h)) for h in (30, 6)])
    queued = (await checks_by_name(conn))[name]
    assert queued.status == "pass"  # the jobs are pending: the fix is on its way

    pool = create_pool(settings.database_url or "", settings)
    await pool.open(wait=True)
    try:
        await run_until_idle(pool, settings)
        assert (await checks_by_name(conn))[name].status == "pass"

        await conn.execute(ADD_SAMPLE, (alice.user_id, 1, 0))  # stored without its job
        await conn.execute("DELETE FROM metric_confidence_cache WHERE user_id = %s", (bob.user_id,))
        c = (await checks_by_name(conn))[name]
        assert c.status == "fail"
        assert (c.data["stale"], c.data["missing"]) == (1, 1)
        assert c.data["examples"] == [f"user {alice.user_id} weight (stale)",
                                      f"user {bob.user_id} weight (no cache row)"]
        assert "recalculate-all" in c.fix

        # a queued job (even one that lost its dedupe key on requeue) is the fix on its way
        await add_job(conn, payload=json.dumps({"user_id": alice.user_id, "metric": "weight"}))
        await add_job(conn, payload=json.dumps({"user_id": bob.user_id, "metric": "weight"}))
        assert (await checks_by_name(conn))[name].status == "pass"
        await run_until_idle(pool, settings)
    finally:
        await pool.close()
    assert (await checks_by_name(conn))[name].status == "pass"


async def test_backfill_outside_the_window_is_not_stale(conn: Conn, settings: Settings) -> None:
    user = await make_user(conn, "client")
    async with conn.transaction():
        await store_samples(conn, user_id=user.user_id, source_id=1, webhook_event_id=None,
                            samples=[weight(datetime.now(UTC) - timedelta(hours=2))])
    pool = create_pool(settings.database_url or "", settings)
    await pool.open(wait=True)
    try:
        await run_until_idle(pool, settings)
    finally:
        await pool.close()
    await conn.execute(ADD_SAMPLE, (user.user_id, 24 * 60, 0))  # 60 days old, received now
    assert (await checks_by_name(conn))["confidence cache no older than its samples"].status == "pass"


async def test_webhook_success_rate_ignores_sandbox_sources(conn: Conn) -> None:
    await conn.execute("INSERT INTO webhook_sources (name, kind, is_sandbox) VALUES ('sb', 'manual', true)")
    await conn.execute("""
        INSERT INTO webhook_stats_minute (source_id, bucket, received, processed, failed)
        SELECT source_id, date_trunc('minute', now()), 100, CASE WHEN is_sandbox THEN 0 ELSE 90 END,
               CASE WHEN is_sandbox THEN 100 ELSE 10 END
        FROM webhook_sources""")
    await conn.execute("""
        INSERT INTO webhook_stats_minute (source_id, bucket, received, failed)
        VALUES (1, now() - interval '2 days', 1000, 1000)""")  # outside the 24 h window
    c = (await checks_by_name(conn))["webhook success rate (24 h)"]
    assert c.status == "warn" and c.data["success_pct"] == 90.0
    assert c.data["received"] == 100


async def test_admin_exists(conn: Conn) -> None:
    assert (await checks_by_name(conn))["an admin user exists"].status == "fail"
    admin = await make_user(conn, "admin")
    assert (await checks_by_name(conn))["an admin user exists"].status == "pass"
    await conn.execute("UPDATE users SET disabled_at = now() WHERE user_id = %s", (admin.user_id,))
    assert (await checks_by_name(conn))["an admin user exists"].status == "fail"


async def test_doctor_json_shape_and_exit_codes(db_url: str, conn: Conn) -> None:
    await make_user(conn, "admin")
    healthy = run_cli(db_url, "doctor", "--json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    doc = json.loads(healthy.stdout)
    assert doc["status"] == "warn" and doc["ok"] is True  # no worker yet, nothing waiting
    assert set(doc["thresholds"]) == {"max_pending", "max_pending_age_seconds",
                                      "min_webhook_success_pct", "lease_grace_seconds"}
    assert [c["name"] for c in doc["checks"]] == list(CHECK_NAMES)
    for c in doc["checks"]:
        assert set(c) == {"name", "status", "value", "fix", "details", "data"}
        assert c["status"] in {"pass", "warn", "fail"}

    await add_job(conn)
    sick = run_cli(db_url, "doctor", "--json", "--max-pending-age", "1h")
    assert sick.returncode == 1
    statuses = {c["name"]: c["status"] for c in json.loads(sick.stdout)["checks"]}
    assert statuses["a worker is alive"] == "fail"

    table = run_cli(db_url, "doctor")
    assert table.returncode == 1
    assert "a worker is alive" in table.stdout and "FAIL" in table.stdout
    assert "start one:" in table.stdout  # a cell's first words: never wrapped apart

    bad = run_cli(db_url, "doctor", "--max-pending-age", "soon")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--max-pending-age" in bad.stderr


def test_unreachable_database_is_a_fail_line(db_url: str) -> None:
    out = run_cli("postgresql://nobody@127.0.0.1:1/none", "doctor")
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "unreachable" in out.stdout and "FAIL" in out.stdout
    doc = json.loads(run_cli("postgresql://nobody@127.0.0.1:1/none", "doctor", "--json").stdout)
    assert doc["checks"][0]["status"] == "fail"
    assert {c["status"] for c in doc["checks"][1:]} == {"skip"}


async def test_unmigrated_database_fails_once_and_skips_the_rest(empty_db_url: str) -> None:
    conn = await connect(empty_db_url)
    try:
        checks = await run_checks(conn, Thresholds())
    finally:
        await conn.close()
    assert checks[0].status == "fail" and checks[0].fix == "vitaltrust migrate"
    assert [c.status for c in checks[1:]] == ["skip"] * (len(CHECK_NAMES) - 1)
    assert "not measured until migrated" in checks[1].value
