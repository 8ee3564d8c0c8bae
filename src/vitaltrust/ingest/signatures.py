"""Signature checks per source kind: pure functions of (headers, raw body, key, now).

Each returns the provider's event id (None when the provider sends none) or raises
`SignatureError`. Every comparison of secret material is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping


class SignatureError(ValueError):
    """The delivery is not authentic (reply 401); the message is safe to show."""


STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
SHARED_SECRET_HEADER = "x-vitaltrust-secret"  # noqa: S105 - a header name
MAX_SIGNATURES = 10  # a rotation needs two; more is noise or an attack on our CPU


def _check_timestamp(raw: str, now: float, tolerance: int) -> int:
    try:
        ts = int(float(raw.strip()))  # some senders add a fraction
    except (ValueError, OverflowError):
        raise SignatureError("the signature timestamp is not a Unix time") from None
    if ts < now - tolerance:
        raise SignatureError("the signature timestamp is too old")
    if ts > now + tolerance:
        raise SignatureError("the signature timestamp is in the future")
    return ts


def _hmac_sha256(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def verify_standard(headers: Mapping[str, str], body: bytes, key: bytes, *, now: float,
                    tolerance: int, names: tuple[str, str, str] = STANDARD_HEADERS) -> str:
    """Standard Webhooks (and Svix with `names=SVIX_HEADERS`): returns the message id."""
    id_name, ts_name, sig_name = names
    msg_id, ts_raw, sig_raw = (headers.get(id_name), headers.get(ts_name), headers.get(sig_name))
    if not msg_id or not ts_raw or not sig_raw:
        raise SignatureError(f"missing {id_name}, {ts_name} or {sig_name} header")
    _check_timestamp(ts_raw, now, tolerance)
    expected = _hmac_sha256(key, msg_id.encode(), b".", ts_raw.strip().encode(), b".", body)
    matched = False
    for candidate in sig_raw.split()[:MAX_SIGNATURES]:
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # no early exit: every candidate is compared
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise SignatureError("no valid signature")
    return msg_id


def verify_junction(headers: Mapping[str, str], body: bytes, key: bytes, *, now: float,
                    tolerance: int) -> str:
    """Junction delivers through Svix; accept the Standard Webhooks names as well."""
    if headers.get("svix-signature") is not None:
        return verify_standard(headers, body, key, now=now, tolerance=tolerance, names=SVIX_HEADERS)
    return verify_standard(headers, body, key, now=now, tolerance=tolerance)


def verify_terra(headers: Mapping[str, str], body: bytes, key: bytes, *, now: float,
                 tolerance: int) -> str | None:
    """`terra-signature: t=<unix>,v1=<hex>[,v1=<hex>]`; HMAC-SHA256 of `t.body`, hex."""
    raw = headers.get("terra-signature")
    if not raw:
        raise SignatureError("missing terra-signature header")
    ts_raw: str | None = None
    candidates: list[str] = []
    for part in raw.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            ts_raw = value
        elif name == "v1":
            candidates.append(value.strip().lower())
    if ts_raw is None or not candidates:
        raise SignatureError("terra-signature needs t= and v1=")
    _check_timestamp(ts_raw, now, tolerance)
    expected = _hmac_sha256(key, ts_raw.strip().encode(), b".", body).hex().encode()
    matched = False
    for candidate in candidates[:MAX_SIGNATURES]:
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureError("no valid signature")
    return headers.get("terra-reference") or None


def verify_shared_secret(headers: Mapping[str, str], secret_hash: bytes, *,
                         client_id: str | None) -> None:
    """Garmin signs nothing: a secret header compared by SHA-256 digest in constant time."""
    given = headers.get(SHARED_SECRET_HEADER)
    if not given:
        raise SignatureError(f"missing {SHARED_SECRET_HEADER} header")
    ok = hmac.compare_digest(hashlib.sha256(given.encode()).digest(), secret_hash)
    if not ok:
        raise SignatureError("wrong shared secret")
    if client_id is not None and not hmac.compare_digest(
            (headers.get("garmin-client-id") or "").encode(), client_id.encode()):
        raise SignatureError("unexpected garmin-client-id")


def verify(kind: str, headers: Mapping[str, str], body: bytes, *, signing_key: bytes | None,
           shared_secret_hash: bytes | None, garmin_client_id: str | None, now: float,
           tolerance: int) -> str | None:
    """Dispatch by source kind; returns the provider's event id when it sends one."""
    if kind in ("standard", "junction", "terra"):
        if signing_key is None:
            raise SignatureError("this source has no signing key")
        if kind == "standard":
            return verify_standard(headers, body, signing_key, now=now, tolerance=tolerance)
        if kind == "junction":
            return verify_junction(headers, body, signing_key, now=now, tolerance=tolerance)
        return verify_terra(headers, body, signing_key, now=now, tolerance=tolerance)
    if kind == "garmin":
        if shared_secret_hash is None:
            raise SignatureError("this source has no shared secret")
        verify_shared_secret(headers, shared_secret_hash, client_id=garmin_client_id)
        return None
    raise SignatureError(f"sources of kind {kind!r} do not accept webhooks")
