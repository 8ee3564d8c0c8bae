"""`vitaltrust logs` over a real failed job, and the worker's log lines carrying job ids."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from psycopg_pool import AsyncConnectionPool

from tests.support.cli import run_cli
from tests.support.procs import spawn, stop
from vitaltrust.config import Settings
from vitaltrust.db import Conn, create_pool
from vitaltrust.ingest.sources import create_source
from vitaltrust.logging_setup import setup_logging
from vitaltrust.ops.logs import format_entry, last_id, levels_from, parse_duration, read_logs, read_newer
from vitaltrust.queue.enqueue import enqueue
from vitaltrust.queue.registry import Job, job_handler
from vitaltrust.queue.worker import run_until_idle

BOOM = "ops_test_boom"


@job_handler(BOOM)
async def boom(conn: Conn, job: Job) -> None:
    logging.getLogger("tests.ops.boom").info("about to fail")
    raise RuntimeError(f"sensor {job.payload['sensor']} is on fire")


@pytest.fixture
async def pool(settings: Settings, db_url: str) -> AsyncIterator[AsyncConnectionPool[Conn]]:
    p = create_pool(db_url, settings)
    await p.open(wait=True)
    yield p
    await p.close()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The service's JSON logging, its handler writing into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("json", "INFO")
    buf = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buf)
    yield buf
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_logs_show_a_failed_jobs_error_and_worker_lines_carry_ids(
        db_url: str, conn: Conn, pool: AsyncConnectionPool[Conn], settings: Settings,
        json_logs: io.StringIO) -> None:
    job_id = await enqueue(conn, BOOM, {"sensor": "left-wrist", "webhook_event_id": 77}, max_attempts=1)
    assert await run_until_idle(pool, settings) == 1

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    from_handler = [x for x in lines if x["msg"] == "about to fail"]
    failed = [x for x in lines if "failed" in x["msg"] and x["logger"] == "vitaltrust.queue.worker"]
    assert from_handler and failed
    for line in (*from_handler, *failed):
        assert (line["job_id"], line["job_type"], line["webhook_event_id"]) == (job_id, BOOM, 77)
    assert "on fire" in failed[0]["msg"]

    out = run_cli(db_url, "logs", "--function", "job-worker")
    assert out.returncode == 0, out.stderr
    [line] = out.stdout.splitlines()
    for part in ("job-worker", "ERROR", "job_failed", f"job={job_id}", f"type={BOOM}", "attempts=1",
                 "sensor left-wrist is on fire", "webhook_event=77"):
        assert part in line

    assert run_cli(db_url, "logs", "--function", "webhook-ingest").stdout == ""
    as_json = run_cli(db_url, "logs", "--json", "--level", "error", "--since", "1h")
    entry = json.loads(as_json.stdout)
    assert entry["job_id"] == job_id and "on fire" in entry["error"]


async def test_logs_filters(conn: Conn) -> None:
    await conn.execute("""
        INSERT INTO edge_function_logs (function_name, level, event, error, created_at) VALUES
          ('job-worker', 'error', 'old_error', 'long ago', now() - interval '3 days'),
          ('job-worker', 'info', 'batch', NULL, now() - interval '10 minutes'),
          ('webhook-ingest', 'warning', 'rejected', 'bad signature', now() - interval '5 minutes')""")

    async def events(function: str | None = None, since: str | None = None, level: str | None = None,
                     limit: int = 100) -> list[str]:
        window = None if since is None else parse_duration(since)
        got = await read_logs(conn, function=function, levels=levels_from(level), since=window,
                              limit=limit)
        return [e.event for e in got]

    assert await events() == ["old_error", "batch", "rejected"]  # oldest first
    assert await events(since="1h") == ["batch", "rejected"]
    assert await events(since="2d", level="warning") == ["rejected"]
    assert await events(function="job-worker", since="1w", level="error") == ["old_error"]
    assert await events(limit=2) == ["batch", "rejected"]
    top = await last_id(conn)
    await conn.execute("INSERT INTO edge_function_logs (function_name, level, event) "
                       "VALUES ('job-worker', 'error', 'new'), ('webhook-ingest', 'error', 'other')")
    newer = await read_newer(conn, after_id=top, upto_id=await last_id(conn), function="job-worker",
                             levels=levels_from("error"))
    assert [e.event for e in newer] == ["new"]


def test_bad_options_are_one_line_and_exit_2(db_url: str) -> None:
    for args, words in ((("--since", "yesterday"), "--since must be"),
                        (("--level", "fatal"), "--level must be")):
        bad = run_cli(db_url, "logs", *args)
        assert bad.returncode == 2
        assert words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


async def test_ingest_failures_and_unmatched_deliveries_are_logged(
        db_url: str, conn: Conn, pool: AsyncConnectionPool[Conn], settings: Settings) -> None:
    source, _ = await create_source(conn, "acme", "standard")
    sandbox, _ = await create_source(conn, "selftest-sb", "standard", is_sandbox=True)
    unmatched = json.dumps({"type": "samples", "user": "nobody-linked", "samples": [
        {"metric": "weight", "value": 80.2, "unit": "kg", "measured_at": "2026-11-28T07:02:00+01:00"}]})
    deliveries = [(source.source_id, "evt-bad", b"{not json"), (source.source_id, "evt-nobody",
                  unmatched.encode()), (sandbox.source_id, "evt-sb", b"{not json")]
    ids = {}
    for source_id, event_id, body in deliveries:
        row = await (await conn.execute(
            "INSERT INTO webhook_events (source_id, event_id, body_sha256, body) VALUES (%s, %s, %s, %s) "
            "RETURNING webhook_event_id", (source_id, event_id, hashlib.sha256(body).digest(), body))
        ).fetchone()
        assert row is not None
        ids[event_id] = row["webhook_event_id"]
        await enqueue(conn, "webhook_processing", {"webhook_event_id": row["webhook_event_id"]})
    await run_until_idle(pool, settings)

    entries = await read_logs(conn, function="webhook-ingest", levels=levels_from(None), since=None)
    by_event = {e.webhook_event_id: e for e in entries}
    assert set(by_event) == {ids["evt-bad"], ids["evt-nobody"]}  # the sandbox one stays out
    bad, nobody = by_event[ids["evt-bad"]], by_event[ids["evt-nobody"]]
    assert (bad.level, bad.event) == ("error", "event_failed") and bad.error
    assert (nobody.level, nobody.event) == ("warning", "event_unmatched")
    assert "sources link" in (nobody.message or "")
    # sources by name, and the accounts nobody linked
    assert "from source acme" in (bad.message or "") and bad.source == "acme"
    assert "linked to no user: nobody-linked" in (nobody.message or "")
    assert "source=acme" in format_entry(nobody)
    errors_only = await read_logs(conn, function="webhook-ingest", levels=levels_from("error"), since=None)
    assert [e.webhook_event_id for e in errors_only] == [ids["evt-bad"]]


async def test_follow_prints_new_entries_until_stopped(db_url: str, conn: Conn, tmp_path: Path) -> None:
    insert = ("INSERT INTO edge_function_logs (function_name, level, event, error) "
              "VALUES (%s, 'error', %s, 'x')")
    out = tmp_path / "follow.out"
    await conn.execute(insert, ("job-worker", "before_start"))
    proc = spawn(db_url, "logs", "--follow", "--function", "job-worker", "--poll", "0.2", log_path=out)
    try:
        async def shows(event: str) -> bool:
            for _ in range(300):
                if event in out.read_text():
                    return True
                await asyncio.sleep(0.1)
            return False

        assert await shows("before_start")  # the tail: the follower is running
        await conn.execute(insert, ("webhook-ingest", "other_function"))
        await conn.execute(insert, ("job-worker", "while_following"))
        assert await shows("while_following")
        assert proc.poll() is None
    finally:
        stop(proc, signal.SIGINT)
    text = out.read_text()
    assert text.count("before_start") == 1 and text.count("while_following") == 1
    assert "other_function" not in text and "Traceback" not in text
