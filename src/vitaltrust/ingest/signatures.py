"""Signature checks per source kind: pure functions of (headers, raw body, keys, now).

Each returns the provider's event id, or None when the provider sends no id that its
signature covers (the caller then uses the body's SHA-256), or raises `SignatureError`.
An id outside the signature (Terra's `terra-reference`) is never returned: a replay
could otherwise pass as a new event by changing it. Several keys are accepted during a
secret rotation's overlap. Every comparison of secret material is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence


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


def _any_match(expected: Sequence[bytes], given: Sequence[bytes]) -> bool:
    """Whether any given value equals any expected one; no early exit, constant-time each."""
    matched = False
    for e in expected:
        for g in given:
            matched |= hmac.compare_digest(e, g)
    return matched


def _hmac_sha256(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def verify_standard(headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], *,
                    now: float, tolerance: int,
                    names: tuple[str, str, str] = STANDARD_HEADERS) -> str:
    """Standard Webhooks (and Svix with `names=SVIX_HEADERS`): returns the message id."""
    id_name, ts_name, sig_name = names
    msg_id, ts_raw, sig_raw = (headers.get(id_name), headers.get(ts_name), headers.get(sig_name))
    if not msg_id or not ts_raw or not sig_raw:
        raise SignatureError(f"missing {id_name}, {ts_name} or {sig_name} header")
    _check_timestamp(ts_raw, now, tolerance)
    signed = (msg_id.encode(), b".", ts_raw.strip().encode(), b".", body)
    given: list[bytes] = []
    for candidate in sig_raw.split()[:MAX_SIGNATURES]:
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not _any_match([_hmac_sha256(key, *signed) for key in keys], given):
        raise SignatureError("no valid signature")
    return msg_id


def verify_junction(headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], *,
                    now: float, tolerance: int) -> str:
    """Junction delivers through Svix; accept the Standard Webhooks names as well."""
    if headers.get("svix-signature") is not None:
        return verify_standard(headers, body, keys, now=now, tolerance=tolerance,
                               names=SVIX_HEADERS)
    return verify_standard(headers, body, keys, now=now, tolerance=tolerance)


def verify_terra(headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], *, now: float,
                 tolerance: int) -> None:
    """`terra-signature: t=<unix>,v1=<hex>[,v1=<hex>]`; HMAC-SHA256 of `t.body`, hex.

    Returns no event id: `terra-reference` is not signed, so the body's hash is the id."""
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
    expected = [_hmac_sha256(key, ts_raw.strip().encode(), b".", body).hex().encode()
                for key in keys]
    if not _any_match(expected, [c.encode() for c in candidates[:MAX_SIGNATURES]]):
        raise SignatureError("no valid signature")
    return None


def verify_garmin(headers: Mapping[str, str], secret_hashes: Sequence[bytes], *,
                  url_token: str | None, client_id: str | None) -> None:
    """Garmin signs nothing: the token in the registered URL (or, for older set-ups, in the
    x-vitaltrust-secret header) is compared by SHA-256 digest in constant time, and the
    garmin-client-id header (the consumer key) must match when the source has one."""
    given = url_token if url_token is not None else headers.get(SHARED_SECRET_HEADER)
    if not given:
        raise SignatureError("missing the URL token (register /webhooks/{source}/{token})")
    if not _any_match(secret_hashes, [hashlib.sha256(given.encode()).digest()]):
        raise SignatureError("wrong URL token")
    if client_id is not None and not hmac.compare_digest(
            (headers.get("garmin-client-id") or "").encode(), client_id.encode()):
        raise SignatureError("missing or unexpected garmin-client-id")


def verify(kind: str, headers: Mapping[str, str], body: bytes, *, signing_keys: Sequence[bytes],
           secret_hashes: Sequence[bytes], garmin_client_id: str | None, now: float,
           tolerance: int, url_token: str | None = None) -> str | None:
    """Dispatch by source kind; returns the provider's event id when its signature covers one."""
    if kind in ("standard", "junction", "terra"):
        if not signing_keys:
            raise SignatureError("this source has no signing key")
        if kind == "standard":
            return verify_standard(headers, body, signing_keys, now=now, tolerance=tolerance)
        if kind == "junction":
            return verify_junction(headers, body, signing_keys, now=now, tolerance=tolerance)
        verify_terra(headers, body, signing_keys, now=now, tolerance=tolerance)
        return None
    if kind == "garmin":
        if not secret_hashes:
            raise SignatureError("this source has no URL token")
        verify_garmin(headers, secret_hashes, url_token=url_token, client_id=garmin_client_id)
        return None
    raise SignatureError(f"sources of kind {kind!r} do not accept webhooks")
