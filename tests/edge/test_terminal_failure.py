"""An acknowledged delivery whose job fails for good ends `failed` with the reason, is
counted in the webhook statistics, and is listed by `vitaltrust logs`; never `received`
for ever."""

from __future__ import annotations

from tests.conftest import make_user
from tests.edge.support import standard_webhook
from tests.ingest.support import store_legacy_event
from tests.monitoring.activity import run_jobs
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ops.logs import format_entry, levels_from, read_logs

# A delivery stored before the edge refused lone surrogates (an upgraded database): the
# job's parse succeeds, storing the sample does not, on every attempt.
LEGACY_BODY = (b'{"type": "samples", "user": "ext-1", "samples": [{"metric": "weight", '
               b'"value": 80.2, "unit": "kg", "measured_at": "2026-11-28T07:02:00+01:00", '
               b'"id": "\\ud800", "device": {"type": "scale", "model": "\\udc00"}}]}')
EVENT = "SELECT status, error FROM webhook_events WHERE webhook_event_id = %s"
FAILED_COUNT = """
SELECT (SELECT coalesce(sum(failed), 0) FROM webhook_stats_minute WHERE source_id = %(s)s) AS minute,
       (SELECT coalesce(sum(failed), 0) FROM webhook_stats_total WHERE source_id = %(s)s) AS total
"""


async def test_job_out_of_attempts_marks_its_event_failed(conn: Conn, db_url: str,
                                                          settings: Settings) -> None:
    user = await make_user(conn, "client")
    hook = await standard_webhook(conn, user.email)
    event_id, source_id = await store_legacy_event(conn, hook.name, LEGACY_BODY, max_attempts=2)
    before = await (await conn.execute(FAILED_COUNT, {"s": source_id})).fetchone()
    for _ in range(2):  # attempt 1 fails and is retried later; make it due, run attempt 2
        await run_jobs(db_url, settings)
        await conn.execute("UPDATE background_jobs SET run_at = now() WHERE status = 'pending'")
    event = await (await conn.execute(EVENT, (event_id,))).fetchone()
    assert event is not None and event["status"] == "failed", event
    assert "after 2 attempt(s)" in event["error"] and "surrogate" in event["error"].lower(), event
    after = await (await conn.execute(FAILED_COUNT, {"s": source_id})).fetchone()
    assert before is not None and after is not None
    assert (after["minute"] - before["minute"], after["total"] - before["total"]) == (1, 1)
    logs = await read_logs(conn, function=None, levels=levels_from("error"), since=None)
    lines = [format_entry(e) for e in logs]
    assert any(f"webhook_event={event_id}" in line and "job_failed" in line for line in lines), lines


async def test_a_retried_job_that_fails_again_is_not_counted_twice(
        conn: Conn, db_url: str, settings: Settings) -> None:
    user = await make_user(conn, "client")
    hook = await standard_webhook(conn, user.email)
    event_id, source_id = await store_legacy_event(conn, hook.name, LEGACY_BODY, max_attempts=1)
    await run_jobs(db_url, settings)
    await conn.execute("SELECT retry_failed_jobs(NULL)")
    await conn.execute("UPDATE background_jobs SET max_attempts = 1")
    await run_jobs(db_url, settings)
    counted = await (await conn.execute(FAILED_COUNT, {"s": source_id})).fetchone()
    assert counted == {"minute": 1, "total": 1}
    event = await (await conn.execute(EVENT, (event_id,))).fetchone()
    assert event is not None and event["status"] == "failed"
