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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vitaltrust.config import get_settings
from vitaltrust.db import Conn
from vitaltrust.ingest.adapters import ADAPTERS, linked_payload_url
from vitaltrust.ingest.linked import fetch_linked_payload
from vitaltrust.metrics.store import SampleGroup, store_groups
from vitaltrust.metrics.types import AdapterError, AdapterResult, RawSample, Rejection
from vitaltrust.monitoring.stats import add_job_webhook_outcome
from vitaltrust.queue.registry import Job, job_handler

# Every claimed delivery of a batch (or the one of a single job): locked in id order, their
# account links in one query, samples stored in one store_groups call, finished in one UPDATE.
LOAD_EVENTS = """
SELECT e.webhook_event_id, e.source_id, e.body, e.status, s.kind, s.is_sandbox
FROM webhook_events e JOIN webhook_sources s USING (source_id)
WHERE e.webhook_event_id = ANY(%s::bigint[])
ORDER BY e.webhook_event_id
FOR UPDATE OF e
"""
LOAD_LINKS = """
SELECT a.source_id, a.external_user_id, a.user_id
FROM source_accounts a
JOIN unnest(%s::int[], %s::text[]) AS k(source_id, external_user_id)
  ON a.source_id = k.source_id AND a.external_user_id = k.external_user_id
"""
FINISH_EVENTS = """
UPDATE webhook_events e
SET status = f.status, processed_at = now(), processing_ms = f.ms, sample_count = f.count,
    rejections = f.rejections, error = f.error, ignored = f.ignored,
    event_type = coalesce(e.event_type, f.event_type)
FROM unnest(%(id)s::bigint[], %(status)s::text[], %(ms)s::float8[], %(count)s::int[],
            %(rejections)s::jsonb[], %(error)s::text[], %(ignored)s::jsonb[],
            %(event_type)s::text[])
     AS f(id, status, ms, count, rejections, error, ignored, event_type)
WHERE e.webhook_event_id = f.id
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


@dataclass
class Outcome:
    """One delivery in processing: its status is known before its samples are stored."""
    event: dict[str, Any]
    status: str
    seconds: float = 0.0                # own processing time (storage is added as a share)
    error: str | None = None
    event_type: str | None = None
    ignored: tuple[str, ...] = ()
    groups: list[SampleGroup] = field(default_factory=list)  # one per linked account
    rejections: list[Rejection] = field(default_factory=list)
    stored: int = 0


def prepare(event: dict[str, Any], parsed: AdapterResult | AdapterError,
            users: dict[str, int]) -> Outcome:
    """Decide a delivery's outcome and the samples to store (pure)."""
    started = time.perf_counter()
    if isinstance(parsed, AdapterError):
        return Outcome(event, "failed", error=str(parsed)[:1000],
                       seconds=time.perf_counter() - started)
    out = Outcome(event, "processed", ignored=parsed.ignored, rejections=list(parsed.rejections),
                  event_type=parsed.event_type[:100] if parsed.event_type else None)
    if not parsed.samples and (parsed.notification_only or parsed.needs_pull):
        out.status = "needs_pull" if parsed.needs_pull else "ignored"
    else:
        by_account: dict[str, list[RawSample]] = defaultdict(list)
        for sample in map(_clean, parsed.samples):
            by_account[sample.external_user_id].append(sample)
        for account, samples in by_account.items():
            user_id = users.get(account)
            if user_id is None:
                out.rejections.append(Rejection(None, f"no user is linked to account {account!r} "
                                                f"({len(samples)} samples)", None, account))
                continue
            out.groups.append(SampleGroup(user_id, event["source_id"], event["webhook_event_id"],
                                          samples, event["is_sandbox"]))
        if by_account and not out.groups:
            out.status = "unmatched"
    out.seconds = time.perf_counter() - started
    return out


async def _store_all(conn: Conn, outcomes: list[Outcome]) -> None:
    """Every delivery's samples in one store_groups call; its time is shared out."""
    groups = [g for o in outcomes for g in o.groups]
    if not groups:
        return
    started = time.perf_counter()
    results = iter(await store_groups(conn, groups))
    share = (time.perf_counter() - started) / sum(1 for o in outcomes if o.groups)
    for o in outcomes:
        for group in o.groups:  # one per account: its samples all carry that account
            account = group.samples[0].external_user_id
            result = next(results)
            o.stored += result.stored
            o.rejections.extend(Rejection(r.index, r.reason, r.metric,
                                          r.external_user_id or account)
                                for r in result.rejections)
        if o.groups:
            o.seconds += share


async def _parse(event: dict[str, Any]) -> AdapterResult | AdapterError:
    try:
        return await parse_event(event)
    except AdapterError as exc:  # the delivery's outcome (failed), not the job's
        return exc


async def process_events(conn: Conn, ids: Sequence[int]) -> dict[int, str]:
    """Process stored deliveries in a constant number of statements; returns the new status
    of each one that was still to process (a delivery twice in `ids` is processed once)."""
    rows = await (await conn.execute(LOAD_EVENTS, (sorted(set(ids)),))).fetchall()
    events = [e for e in rows if e["status"] not in DONE]
    parsed = {e["webhook_event_id"]: await _parse(e) for e in events}
    wanted = sorted({(e["source_id"], account) for e in events
                     if isinstance(r := parsed[e["webhook_event_id"]], AdapterResult)
                     for account in account_ids(r)})
    links: dict[tuple[int, str], int] = {}
    if wanted:
        found = await (await conn.execute(LOAD_LINKS, ([s for s, _ in wanted],
                                                       [a for _, a in wanted]))).fetchall()
        links = {(r["source_id"], r["external_user_id"]): int(r["user_id"]) for r in found}
    outcomes = []
    for e in events:
        result = parsed[e["webhook_event_id"]]
        users = {} if isinstance(result, AdapterError) else {
            a: links[(e["source_id"], a)] for a in account_ids(result)
            if (e["source_id"], a) in links}
        outcomes.append(prepare(e, result, users))
    await _store_all(conn, outcomes)
    if outcomes:
        await conn.execute(FINISH_EVENTS, _finish_params(outcomes))
    for o in outcomes:
        await _count(conn, o)
    return {o.event["webhook_event_id"]: o.status for o in outcomes}


def _finish_params(outcomes: list[Outcome]) -> dict[str, list[Any]]:
    return {
        "id": [o.event["webhook_event_id"] for o in outcomes],
        "status": [o.status for o in outcomes],
        "ms": [o.seconds * 1000 for o in outcomes],
        "count": [o.stored for o in outcomes],
        "error": [o.error for o in outcomes],
        "rejections": [json.dumps([_rejection_json(r)
                                   for r in o.rejections[:MAX_STORED_REJECTIONS]])
                       for o in outcomes],
        "event_type": [o.event_type for o in outcomes],
        "ignored": [json.dumps([_no_nul(i) for i in o.ignored[:100]]) for o in outcomes],
    }


async def _count(conn: Conn, o: Outcome) -> None:
    if o.event["is_sandbox"]:
        return
    # ignored has its own count (migration 0601: received = processed + unmatched +
    # ignored + failed + queued); a needs_pull ping counts as processed and needs_pull
    await add_job_webhook_outcome(conn, o.event["source_id"],
                                  "processed" if o.status == "needs_pull" else o.status,
                                  o.seconds * 1000)
    if o.status == "needs_pull":
        await add_job_webhook_outcome(conn, o.event["source_id"], "needs_pull", 0.0)


async def process_event(conn: Conn, webhook_event_id: int) -> str | None:
    """Process one stored delivery; returns its new status (None: nothing to do)."""
    return (await process_events(conn, [webhook_event_id])).get(webhook_event_id)


def event_id(job: Job) -> int:
    value = job.payload.get("webhook_event_id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"webhook_processing payload needs an integer webhook_event_id: {job.payload}")
    return value


@job_handler("webhook_processing")
async def handle_webhook_processing(conn: Conn, job: Job) -> None:
    await process_event(conn, event_id(job))
