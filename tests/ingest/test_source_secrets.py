"""Pure checks: provider secrets, overlaps, multi-key signatures during a rotation."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.ingest.support import provider_whsec, svix_headers, terra_headers
from vitaltrust.auth.users import UserError
from vitaltrust.ingest.signatures import SignatureError, verify
from vitaltrust.ingest.source_admin import parse_overlap, webhook_url
from vitaltrust.ingest.sources import Source, provided_secret


def test_provided_secrets() -> None:
    whsec = provider_whsec()
    assert provided_secret("junction", whsec) == (base64.b64decode(whsec[6:]), None)
    assert provided_secret("standard", f"  {whsec}\n")[0] == base64.b64decode(whsec[6:])
    unpadded = "whsec_" + base64.b64encode(b"k" * 20).decode().rstrip("=")
    assert provided_secret("standard", unpadded)[0] == b"k" * 20
    assert provided_secret("terra", "abc123-secret") == (b"abc123-secret", None)
    for kind, bad in (("junction", "whsec_"), ("junction", "whsec_%%%"), ("standard", "abcd"),
                      ("standard", "whsec_" + base64.b64encode(b"short").decode()),
                      ("terra", "short"), ("terra", "with space inside"),
                      ("garmin", "x" * 40), ("withings", "x")):
        with pytest.raises(UserError):
            provided_secret(kind, bad)


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400), ("30m", 1800), ("90s", 90),
                                                ("2d", 172800), ("0", 0), (" 5 s ", 5)])
def test_parse_overlap(text: str, seconds: int) -> None:
    assert parse_overlap(text) == seconds


@pytest.mark.parametrize("text", ["", "24", "1w", "-1h", "1.5h", "31d"])
def test_parse_overlap_refuses(text: str) -> None:
    with pytest.raises(UserError):
        parse_overlap(text)


def test_webhook_url() -> None:
    assert webhook_url("https://h.test/", "j", "junction") == "https://h.test/webhooks/j"
    assert webhook_url("https://h.test", "g", "garmin", "tok") == "https://h.test/webhooks/g/tok"
    assert webhook_url("https://h.test", "g", "garmin") == "https://h.test/webhooks/g/****"


def _source(current: bytes, previous: bytes | None, expires: datetime | None) -> Source:
    return Source(1, "s", "junction", current, None, None, True, False, 1, 1, 1, 1,
                  previous_signing_key=previous, previous_expires_at=expires)


def test_the_previous_key_counts_only_until_it_expires() -> None:
    now = time.time()
    later = datetime.fromtimestamp(now + 10, UTC)
    source = _source(b"new", b"old", later)
    assert source.signing_keys(now) == [b"new", b"old"]
    assert source.signing_keys(now + 11) == [b"new"]
    assert _source(b"new", None, None).signing_keys(now) == [b"new"]


@pytest.mark.parametrize("kind", ["junction", "standard", "terra"])
def test_verify_with_two_keys_accepts_either(kind: str) -> None:
    now = time.time()
    secrets = [provider_whsec(), provider_whsec()] if kind != "terra" else ["terra-one-1", "terra-two-2"]
    keys = [provided_secret(kind, s)[0] or b"" for s in secrets]
    body = b'{"x": 1}'
    for secret in secrets:
        headers = (terra_headers(secret, body) if kind == "terra" else
                   svix_headers(secret, body, prefix="svix" if kind == "junction" else "webhook"))
        verify(kind, headers, body, signing_keys=keys, secret_hashes=[], garmin_client_id=None,
               now=now, tolerance=300)
        with pytest.raises(SignatureError):
            verify(kind, headers, body, signing_keys=[k for k in keys if k != keys[
                secrets.index(secret)]], secret_hashes=[], garmin_client_id=None, now=now,
                tolerance=300)


def test_terra_event_id_is_never_the_unsigned_reference() -> None:
    body = b'{"type": "auth"}'
    headers = terra_headers("t-secret-1", body, reference="anything")
    assert verify("terra", headers, body, signing_keys=[b"t-secret-1"], secret_hashes=[],
                  garmin_client_id=None, now=time.time(), tolerance=300) is None


def test_garmin_token_and_client_id() -> None:
    digest = hashlib.sha256(b"the-token").digest()
    ok = {"garmin-client-id": "ck"}
    assert verify("garmin", ok, b"{}", signing_keys=[], secret_hashes=[digest],
                  garmin_client_id="ck", now=0, tolerance=1, url_token="the-token") is None
    for headers, token in (({}, "the-token"), ({"garmin-client-id": "other"}, "the-token"),
                           (ok, "wrong"), (ok, None), (ok, "")):
        with pytest.raises(SignatureError):
            verify("garmin", headers, b"{}", signing_keys=[], secret_hashes=[digest],
                   garmin_client_id="ck", now=0, tolerance=1, url_token=token)
    old_scheme = {"x-vitaltrust-secret": "the-token"}
    verify("garmin", old_scheme, b"{}", signing_keys=[], secret_hashes=[digest],
           garmin_client_id=None, now=0, tolerance=1)


def test_expiry_is_compared_with_the_given_now() -> None:
    expires = datetime.now(UTC) + timedelta(seconds=5)
    source = _source(b"n", b"o", expires)
    assert b"o" in source.signing_keys(expires.timestamp() - 0.001)
    assert b"o" not in source.signing_keys(expires.timestamp())


def test_a_garmin_url_token_never_reaches_the_error_log() -> None:
    from vitaltrust.errors import loggable_path

    assert loggable_path("/webhooks/garmin-eu/s3cr3t-token") == "/webhooks/garmin-eu/****"
    assert loggable_path("/webhooks/garmin-eu/s3cr3t/extra") == "/webhooks/garmin-eu/****/extra"
    assert loggable_path("/webhooks/std") == "/webhooks/std"
    assert loggable_path("/api/users/4/metrics") == "/api/users/4/metrics"
