"""Sending a stream's pending deliveries, oldest first, one at a time.

A stream is one destination, or one subscription + ordering key (user and metric): its
messages go out in order, and a failing head holds the rest back until it succeeds or is
given up (after `outbound_max_attempts`). At-least-once: the attempt is recorded in the
caller's transaction, so a process killed after sending sends again, with the same
`webhook-id` (fixed on the event row) for the receiver to deduplicate.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitaltrust.alerts import sql
from vitaltrust.alerts.render import email_message, json_body, slack_body
from vitaltrust.alerts.secrets import Cipher, signed_headers
from vitaltrust.alerts.transport import Outcome, post, send_email
from vitaltrust.config import Settings
from vitaltrust.db import Conn

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
# Deliveries this process sent successfully, remembered briefly: when the transaction that
# recorded the success rolls back for another reason (the job runner reruns a whole batch
# when one of its other jobs fails), the rerun records the success without sending again.
# A crashed process forgets, and its successor sends again (same webhook-id).
_SENT: OrderedDict[tuple[int, str], tuple[float, Outcome]] = OrderedDict()
SENT_MEMORY = 10_000
SENT_TTL_SECONDS = 600.0


def _remember(key: tuple[int, str], outcome: Outcome) -> None:
    _SENT[key] = (time.monotonic(), outcome)
    _SENT.move_to_end(key)
    while len(_SENT) > SENT_MEMORY:
        _SENT.popitem(last=False)


def _recalled(key: tuple[int, str]) -> Outcome | None:
    hit = _SENT.get(key)
    if hit is None or time.monotonic() - hit[0] > SENT_TTL_SECONDS:
        return None
    return hit[1]


def backoff_seconds(attempts_done: int, retry_after: float | None = None) -> float:
    """5 s, 10 s, 20 s ... capped at an hour; a receiver's Retry-After wins when longer."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(attempts_done - 1, 0))
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True)
class StreamResult:
    sent: int = 0
    failed: int = 0
    busy: bool = False                 # another process holds the stream
    retry_at: datetime | None = None   # the head waits for its next attempt
    more: bool = False                 # stopped early (budget); run again now


async def send_one(settings: Settings, cipher: Cipher, row: dict[str, Any]) -> Outcome:
    payload: dict[str, Any] = row["payload"]
    target = cipher.decrypt(row["target_enc"])
    timeout = float(row["timeout_seconds"])
    timestamp = int(time.time())
    webhook_id = str(row["webhook_id"])
    if row["kind"] == "email":
        return await send_email(settings, target, email_message(payload),
                                {"X-Vitaltrust-Webhook-Id": webhook_id}, limit_seconds=timeout)
    if row["kind"] == "slack":
        body = slack_body(payload)
        headers = {"content-type": "application/json"}
    else:
        body = json_body(payload)
        headers = signed_headers(cipher.decrypt(row["secret_enc"]), webhook_id, timestamp, body)
    return await post(target, body, headers, limit_seconds=timeout,
                      max_response_bytes=int(row["max_response_bytes"]))


async def deliver_stream(conn: Conn, settings: Settings, stream: str, *, via: str, by: str,
                         max_items: int = 50, budget_seconds: float = 30.0) -> StreamResult:
    """Send what is due on `stream` inside the caller's transaction."""
    got = await (await conn.execute(sql.STREAM_LOCK, (stream,))).fetchone()
    if not got or not got["got"]:
        return StreamResult(busy=True)
    cipher = Cipher(settings.outbound_secret_key)
    sent = failed = 0
    started = time.monotonic()
    for _ in range(max_items):
        if time.monotonic() - started > budget_seconds:
            return StreamResult(sent, failed, more=True)
        row = await (await conn.execute(sql.NEXT_DELIVERY, {"stream": stream, "via": via})
                     ).fetchone()
        if row is None:
            return StreamResult(sent, failed)
        if not row["due"]:
            return StreamResult(sent, failed, retry_at=row["next_attempt_at"])
        key = (int(row["delivery_id"]), str(row["webhook_id"]))  # ids are per database
        outcome = _recalled(key) or await send_one(settings, cipher, row)
        if outcome.ok:
            _remember(key, outcome)
        attempts = int(row["attempts"]) + 1
        rec = await (await conn.execute(sql.RECORD_ATTEMPT, {
            "id": row["delivery_id"], "ok": outcome.ok, "code": outcome.status_code,
            "ms": outcome.duration_ms, "error": outcome.error, "by": by,
            "max_attempts": settings.outbound_max_attempts,
            "delay": 0.0 if outcome.ok else backoff_seconds(attempts, outcome.retry_after),
        })).fetchone()
        status = rec["status"] if rec else "pending"
        if outcome.ok:
            sent += 1
            continue
        log.warning("outbound delivery %s (%s) attempt %d failed: %s", row["delivery_id"],
                    row["webhook_id"], attempts, outcome.error)
        if status == "failed":
            failed += 1  # given up: the stream moves on (a replay can send it again)
            continue
        row2 = await (await conn.execute(sql.NEXT_DELIVERY, {"stream": stream, "via": via})
                      ).fetchone()
        return StreamResult(sent, failed, retry_at=row2["next_attempt_at"] if row2 else None)
    return StreamResult(sent, failed, more=True)
