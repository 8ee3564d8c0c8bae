"""Managing destinations and subscriptions; test sends, replays and delivery logs.

Shared by the CLI and the admin API; every function works in the caller's transaction and
raises `OutboundConfigError` (a one-line message) for bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from vitaltrust.alerts import sql
from vitaltrust.alerts.emit import emit_alert
from vitaltrust.alerts.rules import Rule, State
from vitaltrust.alerts.secrets import (
    Cipher,
    OutboundConfigError,
    hint_email,
    hint_url,
    new_signing_secret,
    validate_email,
    validate_url,
)
from vitaltrust.config import Settings
from vitaltrust.db import Conn

KINDS = ("webhook", "slack", "email")
EVENT_TYPES = ("confidence.level_changed", "confidence.low_quality", "webhook.unmatched_account",
               "alert.firing", "alert.resolved")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
TEST_RULE = Rule("test", "test", "Test message from vitaltrust", "warning", True, None)


@dataclass(frozen=True)
class Created:
    id: int
    name: str
    secret: str | None  # shown once: the receiver needs it to verify signatures


def _name(name: str) -> str:
    if not NAME_RE.match(name):
        raise OutboundConfigError(f"invalid name {name!r}: lower-case letters, digits, '.', '_', "
                                  "'-' (at most 63, starting with a letter or digit)")
    return name


def _limits(timeout: float, max_bytes: int) -> None:
    if not 0.1 <= timeout <= 60:
        raise OutboundConfigError("the time-out must be between 0.1 and 60 seconds")
    if not 0 <= max_bytes <= 10 * 1024 * 1024:
        raise OutboundConfigError("the response-size limit must be between 0 and 10485760 bytes")


async def add_destination(conn: Conn, settings: Settings, *, name: str, kind: str, target: str,
                          timeout_seconds: float = 10.0, max_bytes: int = 65536) -> Created:
    _name(name)
    _limits(timeout_seconds, max_bytes)
    if kind not in KINDS:
        raise OutboundConfigError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    if kind == "email":
        target = validate_email(target)
        hint = hint_email(target)
    else:
        target = validate_url(target, allow_http=settings.outbound_allow_http)
        hint = hint_url(target)
    cipher = Cipher(settings.outbound_secret_key)
    secret = new_signing_secret() if kind == "webhook" else None
    row = await (await conn.execute(sql.INSERT_DESTINATION, {
        "name": name, "kind": kind, "target_enc": cipher.encrypt(target), "target_hint": hint,
        "secret_enc": cipher.encrypt(secret) if secret else None, "timeout": timeout_seconds,
        "max_bytes": max_bytes})).fetchone()
    if row is None:
        raise OutboundConfigError(f"a destination named {name!r} exists already")
    return Created(int(row["destination_id"]), name, secret)


async def add_subscription(conn: Conn, settings: Settings, *, name: str, url: str,
                           event_types: list[str], timeout_seconds: float = 10.0,
                           max_bytes: int = 65536) -> Created:
    _name(name)
    _limits(timeout_seconds, max_bytes)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise OutboundConfigError(f"unknown event type(s) {', '.join(unknown) or '(none given)'}: "
                                  f"choose from {', '.join(EVENT_TYPES)}")
    url = validate_url(url, allow_http=settings.outbound_allow_http)
    cipher = Cipher(settings.outbound_secret_key)
    secret = new_signing_secret()
    row = await (await conn.execute(sql.INSERT_SUBSCRIPTION, {
        "name": name, "url_enc": cipher.encrypt(url), "url_hint": hint_url(url),
        "secret_enc": cipher.encrypt(secret), "event_types": sorted(set(event_types)),
        "timeout": timeout_seconds, "max_bytes": max_bytes})).fetchone()
    if row is None:
        raise OutboundConfigError(f"a subscription named {name!r} exists already")
    return Created(int(row["subscription_id"]), name, secret)


async def _rows(conn: Conn, query: str, params: Any = None) -> list[dict[str, Any]]:
    return [dict(r) for r in await (await conn.execute(query, params)).fetchall()]


async def list_destinations(conn: Conn) -> list[dict[str, Any]]:
    return await _rows(conn, sql.LIST_DESTINATIONS)


async def list_subscriptions(conn: Conn) -> list[dict[str, Any]]:
    return await _rows(conn, sql.LIST_SUBSCRIPTIONS)


async def _id(conn: Conn, query: str, name: str, what: str) -> int:
    row = await (await conn.execute(query, (name,))).fetchone()
    if row is None:
        raise LookupError(f"no {what} named {name!r}")
    return int(next(iter(row.values())))


async def remove_destination(conn: Conn, name: str) -> int:
    return await _id(conn, sql.DELETE_DESTINATION, name, "destination")


async def remove_subscription(conn: Conn, name: str) -> int:
    return await _id(conn, sql.DELETE_SUBSCRIPTION, name, "subscription")


async def destination_log(conn: Conn, name: str, limit: int = 50) -> list[dict[str, Any]]:
    dest = await _id(conn, sql.DESTINATION_ID, name, "destination")
    return await _rows(conn, sql.DELIVERY_LOG, {"destination_id": dest, "subscription_id": None,
                                               "limit": limit})


async def subscription_log(conn: Conn, name: str, limit: int = 50) -> list[dict[str, Any]]:
    sub = await _id(conn, sql.SUBSCRIPTION_ID, name, "subscription")
    return await _rows(conn, sql.DELIVERY_LOG, {"destination_id": None, "subscription_id": sub,
                                               "limit": limit})


async def send_test(conn: Conn, settings: Settings, name: str) -> int:
    """A test alert to one destination, as a job on the queue; returns the event id."""
    dest = await _id(conn, sql.DESTINATION_ID, name, "destination")
    now = (await (await conn.execute("SELECT now() AS now")).fetchone() or {})["now"]
    state = State("firing", now, now, None, None,
                  "This is a test message: the destination is set up correctly.")
    event_id, _ = await emit_alert(conn, TEST_RULE, "firing", state, now, settings,
                                   destination_id=dest, test=True, via="queue")
    return event_id


async def replay(conn: Conn, event: str, subscription: str | None = None) -> int:
    """Deliver one event (by webhook-id or event id) again, same webhook-id; returns deliveries."""
    sub = await _id(conn, sql.SUBSCRIPTION_ID, subscription, "subscription") if subscription else None
    row = await (await conn.execute(sql.REPLAY_EVENT, {"webhook_id": event,
                                                       "subscription_id": sub})).fetchone()
    if row is None or not row["events"]:
        raise LookupError(f"no event {event!r}")
    return int(row["deliveries"])
