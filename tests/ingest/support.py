"""Signing helpers and fixtures shared by the ingestion tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

from vitaltrust.db import Conn
from vitaltrust.ingest.sources import Source, create_source


def native_body(user: str = "ext-1", value: Any = 80.2, **sample: Any) -> bytes:
    s = {"metric": "weight", "value": value, "unit": "kg",
         "measured_at": "2026-11-28T07:02:00+01:00", "device": {"type": "scale", "model": "Body+"}}
    s.update(sample)
    return json.dumps({"type": "samples", "user": user, "samples": [s]}).encode()


def standard_headers(secret: str, body: bytes, *, msg_id: str | None = None,
                     ts: int | None = None, prefix: str = "webhook") -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if ts is None else ts
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                    hashlib.sha256).digest()).decode()
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts),
            f"{prefix}-signature": f"v1,{sig}", "content-type": "application/json"}


def terra_headers(secret: str, body: bytes, *, ts: int | None = None,
                  reference: str | None = None) -> dict[str, str]:
    """Signed as Terra signs: `terra-signature: t=<unix>,v1=<hex HMAC-SHA256(secret utf-8,
    "{t}.{body}")>` (Terra's Python SDK, tryterra/terra-client-python terra/base_client.py
    `Terra.check_terra_signature`; header format at https://docs.tryterra.co/reference/signing
    and .../health-and-fitness-api/integration-setup/setting-up-data-destinations/webhooks),
    plus the unsigned `terra-reference` request id."""
    ts = int(time.time()) if ts is None else ts
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"terra-signature": f"t={ts},v1={sig}", "content-type": "application/json",
            "terra-reference": reference or uuid.uuid4().hex}


async def make_source(conn: Conn, kind: str = "standard", name: str | None = None,
                      **kw: Any) -> tuple[Source, str]:
    name = name or f"{kind}-{uuid.uuid4().hex[:8]}"
    return await create_source(conn, name, kind, **kw)


async def count(conn: Conn, table: str) -> int:
    queries = {"webhook_events": "SELECT count(*) AS n FROM webhook_events",
               "jobs": "SELECT count(*) AS n FROM background_jobs WHERE type = 'webhook_processing'"}
    row = await (await conn.execute(queries[table])).fetchone()
    assert row is not None
    return int(row["n"])


def provider_whsec() -> str:
    """A secret shaped as Svix and Standard Webhooks issue them: whsec_ + base64(24 bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def svix_headers(secret: str, body: bytes, *, msg_id: str | None = None,
                 prefix: str = "svix") -> dict[str, str]:
    """Signed by the official `standardwebhooks` package (the independent client), under
    Svix's header names (Junction) or Standard Webhooks' (`prefix="webhook"`)."""
    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(int(now.timestamp())),
            f"{prefix}-signature": Webhook(secret).sign(msg_id, now, body.decode()),
            "content-type": "application/json"}


def no_source_cache(app: Any) -> None:
    """Read every source from the database, so a rotation applies to the next request."""
    from vitaltrust.ingest.routes import runtime

    runtime(app).sources.ttl = 0
