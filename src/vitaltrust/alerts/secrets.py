"""Outbound secrets: Standard Webhooks signing, encryption at rest, target validation.

Pure functions (no I/O). The signing scheme is https://www.standardwebhooks.com: the
signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 with the
base64-decoded part of a `whsec_...` secret, sent as `v1,<base64 signature>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret
MAX_URL_CHARS = 2048


class OutboundConfigError(ValueError):
    """Bad input for a destination or subscription (a one-line message for the user)."""


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, webhook_id, timestamp, body),
            "content-type": "application/json"}


class Cipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with the key from `VITALTRUST_OUTBOUND_SECRET_KEY`."""

    def __init__(self, key: str | None) -> None:
        if not key:
            raise OutboundConfigError(
                "VITALTRUST_OUTBOUND_SECRET_KEY is not set: generate one with "
                "`vitaltrust alerts keygen` and set it for every vitaltrust process")
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise OutboundConfigError("VITALTRUST_OUTBOUND_SECRET_KEY is not a valid Fernet key "
                                      "(32 url-safe base64-encoded bytes)") from exc

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise OutboundConfigError("a stored secret cannot be decrypted with the configured "
                                      "VITALTRUST_OUTBOUND_SECRET_KEY (was the key changed?)") from exc


def new_key() -> str:
    return Fernet.generate_key().decode()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_url(url: str, *, allow_http: bool = False) -> str:
    """An absolute http(s) URL without credentials; plain http only to loopback unless allowed."""
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise OutboundConfigError(f"the URL must be 1-{MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise OutboundConfigError("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundConfigError(f"the URL is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise OutboundConfigError("the URL must start with https:// (or http:// for loopback)")
    host = parts.hostname or ""
    if not host:
        raise OutboundConfigError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundConfigError("the URL must not carry a user name or password")
    if parts.scheme == "http" and not (allow_http or _is_loopback(host)):
        raise OutboundConfigError("plain http:// is allowed only to loopback addresses; use "
                                  "https:// (or set VITALTRUST_OUTBOUND_ALLOW_HTTP)")
    del port
    return url


def validate_email(address: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if (not at or not local or "." not in domain.strip(".") or len(address) > 254
            or any(c.isspace() or c in "<>,;\"" or ord(c) < 32 for c in address)):
        raise OutboundConfigError(f"{address!r} is not an e-mail address")
    return address


def hint_url(url: str) -> str:
    """What a listing may show: scheme, host and port (a Slack URL's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def hint_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}"


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)
