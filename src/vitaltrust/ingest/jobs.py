"""The `webhook_processing` job: adapter → account mapping → sample storage → event status.

Outcomes written on the event (and counted in webhook_stats_minute in the same
transaction, so the statistics move exactly with the status):
- processed: samples stored (malformed ones rejected one by one, reasons in `rejections`);
- unmatched: the event's samples belong only to provider accounts nobody linked (not a
  job failure; `vitaltrust sources link` and a retry fix it);
- ignored: a lifecycle / notification event, or one whose every part is deliberately not
  mapped (recorded, no samples expected; the reasons in `ignored`, which also lists the
  unmapped parts of processed deliveries);
- needs_pull: a ping that only says where the data can be pulled (Garmin ping/pull);
  counted as processed and as needs_pull, and logged for `vitaltrust logs`;
- failed: the payload is not the provider's shape (a retry would not help, so the job
  completes and the event carries the error). Database errors and a linked payload that
  cannot be downloaded now (Terra `s3_payload`) raise: the job retries.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, replace
from typing import Any

from vitaltrust.config import get_settings
from vitaltrust.db import Conn
from vitaltrust.ingest.adapters import ADAPTERS, linked_payload_url
from vitaltrust.ingest.linked import fetch_linked_payload
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import AdapterError, AdapterResult, RawSample, Rejection
from vitaltrust.monitoring.stats import add_job_webhook_outcome
from vitaltrust.queue.registry import Job, job_handler

LOAD_EVENT = """
SELECT e.webhook_event_id, e.source_id, e.body, e.status, s.kind, s.is_sandbox
FROM webhook_events e JOIN webhook_sources s USING (source_id)
WHERE e.webhook_event_id = %s
FOR UPDATE OF e
"""
LOAD_ACCOUNTS = """
SELECT external_user_id, user_id FROM source_accounts
WHERE source_id = %s AND external_user_id = ANY(%s)
"""
FINISH_EVENT = """
UPDATE webhook_events
SET status = %(status)s, processed_at = now(), processing_ms = %(ms)s,
    sample_count = %(count)s, rejections = %(rejections)s::jsonb, error = %(error)s,
    ignored = %(ignored)s::jsonb, event_type = coalesce(event_type, %(event_type)s)
WHERE webhook_event_id = %(id)s
"""
DONE = frozenset({"processed", "ignored", "needs_pull"})
MAX_STORED_REJECTIONS = 500


def _rejection_json(r: Rejection) -> dict[str, Any]:
    return {k: _no_nul(v) for k, v in asdict(r).items() if v is not None}


def _no_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def _clean(sample: RawSample) -> RawSample:
    """PostgreSQL text and jsonb cannot hold NUL; a provider string may."""
    fields = ("external_user_id", "metric", "unit", "device_model", "sample_id", "local_date")
    if not any(isinstance(getattr(sample, f), str) and "\x00" in getattr(sample, f)
               for f in fields):
        return sample
    return replace(sample, **{f: _no_nul(getattr(sample, f)) for f in fields})


def load_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterError("the body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise AdapterError("the body is not a JSON object")
    return payload


def adapt(kind: str, payload: dict[str, Any]) -> AdapterResult:
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise AdapterError(f"no adapter for sources of kind {kind!r}")
    return adapter(payload)


def parse(kind: str, body: bytes) -> AdapterResult:
    return adapt(kind, load_payload(body))


async def _linked(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload itself, or the one it links to (downloaded now)."""
    url = linked_payload_url(kind, payload)
    if url is None:
        return payload
    settings = get_settings()
    return await fetch_linked_payload(
        url, https_only=settings.linked_payload_https_only,
        timeout_seconds=settings.linked_payload_timeout_seconds,
        max_bytes=settings.linked_payload_max_bytes)


async def parse_event(event: dict[str, Any]) -> AdapterResult:
    """The adapter's reading of a stored delivery (its linked payload downloaded first)."""
    payload = await _linked(event["kind"], load_payload(bytes(event["body"])))
    return adapt(event["kind"], payload)


def account_ids(result: AdapterResult) -> list[str]:
    return list(dict.fromkeys(_clean(s).external_user_id for s in result.samples))


async def _store(conn: Conn, event: dict[str, Any], result: AdapterResult,
                 users: dict[str, int] | None = None) -> tuple[str, int, list[Rejection]]:
    by_account: dict[str, list[RawSample]] = defaultdict(list)
    for sample in map(_clean, result.samples):
        by_account[sample.external_user_id].append(sample)
    if users is None:
        rows = await (await conn.execute(LOAD_ACCOUNTS, (event["source_id"], list(by_account)))
                      ).fetchall()
        users = {r["external_user_id"]: int(r["user_id"]) for r in rows}
    stored = 0
    rejections = list(result.rejections)
    for account, samples in by_account.items():
        user_id = users.get(account)
        if user_id is None:
            rejections.append(Rejection(None, f"no user is linked to account {account!r} "
                                        f"({len(samples)} samples)", None, account))
            continue
        outcome = await store_samples(conn, user_id=user_id, source_id=event["source_id"],
                                      webhook_event_id=event["webhook_event_id"], samples=samples,
                                      is_sandbox=event["is_sandbox"])
        stored += outcome.stored
        rejections.extend(Rejection(r.index, r.reason, r.metric, r.external_user_id or account)
                          for r in outcome.rejections)
    status = "unmatched" if by_account and not any(a in users for a in by_account) else "processed"
    return status, stored, rejections


async def process_event(conn: Conn, webhook_event_id: int, *,
                        loaded: tuple[dict[str, Any], AdapterResult | AdapterError,
                                      dict[str, int]] | None = None,
                        finish: list[dict[str, Any]] | None = None) -> str | None:
    """Process one stored delivery; returns its new status (None: nothing to do).

    A batch (ingest.batch_jobs) passes the event row (locked), its `parse_event` result and
    its account links as `loaded`, and collects the FINISH_EVENT parameters in `finish`.
    """
    if loaded is None:
        event = await (await conn.execute(LOAD_EVENT, (webhook_event_id,))).fetchone()
        parsed: AdapterResult | AdapterError | None = None
        users: dict[str, int] | None = None
    else:
        event, parsed, users = loaded
    if event is None or event["status"] in DONE:
        return None
    started = time.perf_counter()
    error: str | None = None
    stored = 0
    rejections: list[Rejection] = []
    event_type: str | None = None
    ignored: tuple[str, ...] = ()
    try:
        if isinstance(parsed, AdapterError):
            raise parsed
        result = parsed if parsed is not None else await parse_event(event)
        event_type = result.event_type[:100] if result.event_type else None
        ignored = result.ignored
        if result.samples or not (result.notification_only or result.needs_pull):
            status, stored, rejections = await _store(conn, event, result, users)
        else:
            status = "needs_pull" if result.needs_pull else "ignored"
    except AdapterError as exc:
        status, error = "failed", str(exc)[:1000]
    ms = (time.perf_counter() - started) * 1000
    params = {
        "id": webhook_event_id, "status": status, "ms": ms, "count": stored, "error": error,
        "rejections": json.dumps([_rejection_json(r) for r in rejections[:MAX_STORED_REJECTIONS]]),
        "event_type": event_type, "ignored": json.dumps([_no_nul(i) for i in ignored[:100]]),
    }
    if finish is None:
        await conn.execute(FINISH_EVENT, params)
    else:
        finish.append(params)
    if not event["is_sandbox"]:
        # ignored has its own count (migration 0601: received = processed + unmatched +
        # ignored + failed + queued); a needs_pull ping counts as processed and needs_pull
        await add_job_webhook_outcome(conn, event["source_id"],
                                      "processed" if status == "needs_pull" else status, ms)
        if status == "needs_pull":
            await add_job_webhook_outcome(conn, event["source_id"], "needs_pull", 0.0)
    return str(status)


def event_id(job: Job) -> int:
    value = job.payload.get("webhook_event_id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"webhook_processing payload needs an integer webhook_event_id: {job.payload}")
    return value


@job_handler("webhook_processing")
async def handle_webhook_processing(conn: Conn, job: Job) -> None:
    await process_event(conn, event_id(job))
