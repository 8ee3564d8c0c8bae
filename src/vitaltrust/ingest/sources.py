"""Webhook sources (one per provider integration) and provider-account links."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from vitaltrust.auth.secrets import token_digest
from vitaltrust.auth.users import UserError, get_user_by_email
from vitaltrust.db import Conn, fetch_one

KINDS = ("standard", "junction", "terra", "garmin")
HMAC_KINDS = frozenset({"standard", "junction", "terra"})
NAME_SHAPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Source:
    source_id: int
    name: str
    kind: str
    signing_key: bytes | None
    shared_secret_hash: bytes | None
    garmin_client_id: str | None
    enabled: bool
    is_sandbox: bool
    rate_per_second: float
    rate_burst: int
    account_rate_per_second: float
    account_rate_burst: int
    # the secret replaced by the last rotation, accepted until previous_expires_at
    previous_signing_key: bytes | None = None
    previous_shared_secret_hash: bytes | None = None
    previous_expires_at: datetime | None = None

    def _previous_valid(self, now: float) -> bool:
        return self.previous_expires_at is not None and self.previous_expires_at.timestamp() > now

    def signing_keys(self, now: float) -> list[bytes]:
        """HMAC keys a signature may use at `now` (Unix seconds): current, then previous."""
        keys = [self.signing_key] if self.signing_key is not None else []
        if self.previous_signing_key is not None and self._previous_valid(now):
            keys.append(self.previous_signing_key)
        return keys

    def secret_hashes(self, now: float) -> list[bytes]:
        """SHA-256 digests of the garmin URL tokens accepted at `now`."""
        hashes = [self.shared_secret_hash] if self.shared_secret_hash is not None else []
        if self.previous_shared_secret_hash is not None and self._previous_valid(now):
            hashes.append(self.previous_shared_secret_hash)
        return hashes


SOURCE_COLUMNS_SQL = """
SELECT source_id, name, kind, signing_key, shared_secret_hash, garmin_client_id, enabled,
       is_sandbox, rate_per_second, rate_burst, account_rate_per_second, account_rate_burst,
       previous_signing_key, previous_shared_secret_hash, previous_expires_at
FROM webhook_sources WHERE name = %s
"""
INSERT_SOURCE = """
INSERT INTO webhook_sources (name, kind, signing_key, shared_secret_hash, garmin_client_id,
                             is_sandbox, rate_per_second, rate_burst,
                             account_rate_per_second, account_rate_burst)
VALUES (%(name)s, %(kind)s, %(signing_key)s, %(shared_secret_hash)s, %(garmin_client_id)s,
        %(is_sandbox)s, %(rate_per_second)s, %(rate_burst)s,
        %(account_rate_per_second)s, %(account_rate_burst)s)
ON CONFLICT (name) DO NOTHING
RETURNING source_id
"""
LINK_ACCOUNT = """
INSERT INTO source_accounts (source_id, external_user_id, user_id) VALUES (%s, %s, %s)
ON CONFLICT (source_id, external_user_id) DO UPDATE SET user_id = EXCLUDED.user_id
"""


def new_secret(kind: str) -> tuple[str, bytes | None, bytes | None]:
    """(secret shown once, signing key to store, shared-secret digest to store)."""
    if kind in ("standard", "junction"):
        raw = secrets.token_bytes(24)
        return "whsec_" + base64.b64encode(raw).decode(), raw, None
    if kind == "terra":
        secret = secrets.token_hex(24)
        return secret, secret.encode(), None
    if kind == "garmin":
        secret = secrets.token_urlsafe(32)
        return secret, None, token_digest(secret)
    raise UserError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 128
PLAIN_SECRET_SHAPE = re.compile(r"^[\x21-\x7e]{8,256}$")  # printable ASCII, no spaces


def provided_secret(kind: str, secret: str) -> tuple[bytes | None, bytes | None]:
    """(signing key, shared-secret digest) for a secret the provider issued.

    standard/junction: Standard Webhooks / Svix `whsec_<base64>`, the key is the decoded
    bytes; terra: the dashboard's signing secret, used as it is. Garmin issues no secret.
    """
    secret = secret.strip()
    if kind in ("standard", "junction"):
        encoded = secret.removeprefix("whsec_")
        try:
            if encoded == secret:
                raise ValueError
            # some issuers drop the base64 padding (the official library re-adds it)
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise UserError(f"a {kind} secret must look like whsec_<base64> "
                            "(as the provider's dashboard shows it)") from None
        if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
            raise UserError(f"a {kind} secret must decode to {MIN_KEY_BYTES}-{MAX_KEY_BYTES} "
                            f"bytes, not {len(key)}")
        return key, None
    if kind == "terra":
        if not PLAIN_SECRET_SHAPE.match(secret):
            raise UserError("a terra signing secret must be 8-256 printable characters "
                            "without spaces")
        return secret.encode(), None
    if kind == "garmin":
        raise UserError("garmin sends no signature: vitaltrust generates the URL token; "
                        "omit --secret")
    raise UserError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def source_secret(kind: str, secret: str | None) -> tuple[str | None, bytes | None, bytes | None]:
    """(secret to show once, or None when the operator supplied it; key; digest)."""
    if kind not in KINDS:
        raise UserError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if secret is None:
        return new_secret(kind)
    key, digest = provided_secret(kind, secret)
    return None, key, digest


async def get_source(conn: Conn, name: str) -> Source | None:
    return await fetch_one(conn, SOURCE_COLUMNS_SQL, (name,), Source)


async def create_source(conn: Conn, name: str, kind: str, *, garmin_client_id: str | None = None,
                        is_sandbox: bool = False, rate_per_second: float = 200,
                        rate_burst: int = 400, account_rate_per_second: float = 20,
                        account_rate_burst: int = 60, secret: str | None = None
                        ) -> tuple[Source, str]:
    """Create a source with the provider's `secret`, or a generated one; returns the
    source and its secret (to show once: only a garmin token's digest is stored)."""
    if not NAME_SHAPE.match(name):
        raise UserError(f"source name {name!r} must be lower-case letters, digits, '-' or '_'")
    generated, signing_key, shared_hash = source_secret(kind, secret)
    row = await (await conn.execute(INSERT_SOURCE, {
        "name": name, "kind": kind, "signing_key": signing_key,
        "shared_secret_hash": shared_hash, "garmin_client_id": garmin_client_id,
        "is_sandbox": is_sandbox, "rate_per_second": rate_per_second, "rate_burst": rate_burst,
        "account_rate_per_second": account_rate_per_second,
        "account_rate_burst": account_rate_burst,
    })).fetchone()
    if row is None:
        raise UserError(f"a source named {name!r} already exists")
    source = await get_source(conn, name)
    assert source is not None
    return source, generated if generated is not None else (secret or "").strip()


async def link_account(conn: Conn, *, source_name: str, external_user_id: str, email: str) -> None:
    source = await get_source(conn, source_name)
    if source is None:
        raise UserError(f"no source named {source_name!r}")
    user = await get_user_by_email(conn, email)
    if user is None:
        raise UserError(f"no user with e-mail {email}")
    if not external_user_id:
        raise UserError("the external id must not be empty")
    await conn.execute(LINK_ACCOUNT, (source.source_id, external_user_id, user.user_id))


# requeue_webhook_events() (migration 0601) takes each event's old outcome out of the
# statistics, so a reprocessed event is counted once.
REPROCESS = """
SELECT r.webhook_event_id, r.is_sandbox
FROM requeue_webhook_events(ARRAY(
    SELECT e.webhook_event_id FROM webhook_events e JOIN webhook_sources s USING (source_id)
    WHERE s.name = %(name)s AND e.status = ANY(%(statuses)s))) AS r
"""


async def reprocess_events(conn: Conn, source_name: str, statuses: list[str]) -> int:
    """Queue the source's events in `statuses` again (e.g. `unmatched` after a link)."""
    from vitaltrust.queue.enqueue import NewJob, enqueue_many

    if await get_source(conn, source_name) is None:
        raise UserError(f"no source named {source_name!r}")
    rows = await (await conn.execute(REPROCESS, {"name": source_name, "statuses": statuses})
                  ).fetchall()
    await enqueue_many(conn, [NewJob("webhook_processing",
                                     {"webhook_event_id": int(r["webhook_event_id"])},
                                     is_sandbox=bool(r["is_sandbox"])) for r in rows])
    return len(rows)
