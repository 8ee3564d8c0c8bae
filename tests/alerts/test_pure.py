"""Pure parts: signatures (checked with the official package), URL rules, state machine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from vitaltrust.alerts.render import email_message, slack_body
from vitaltrust.alerts.rules import RULES_BY_NAME, Observation, State, Timing, step
from vitaltrust.alerts.secrets import (
    Cipher,
    OutboundConfigError,
    new_key,
    new_signing_secret,
    same_origin,
    sign,
    signed_headers,
    validate_email,
    validate_url,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=300), ts_offset=st.integers(-100, 100))
def test_signature_verifies_with_the_official_package(body: bytes, ts_offset: int) -> None:
    secret = new_signing_secret()
    now = int(datetime.now(UTC).timestamp()) + ts_offset
    payload = json.dumps({"b": body.hex()}).encode()
    headers = signed_headers(secret, "msg_abc", now, payload)
    Webhook(secret).verify(payload, headers)  # raises when wrong
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(payload, headers)


def test_signature_matches_the_official_signer() -> None:
    secret = new_signing_secret()
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    assert sign(secret, "msg_1", int(ts.timestamp()), b'{"a":1}') == \
        Webhook(secret).sign("msg_1", ts, '{"a":1}')


def test_cipher_round_trip_and_wrong_key() -> None:
    c = Cipher(new_key())
    token = c.encrypt("https://hooks.slack.com/services/T/B/secret")
    assert b"secret" not in token
    assert c.decrypt(token) == "https://hooks.slack.com/services/T/B/secret"
    with pytest.raises(OutboundConfigError, match="cannot be decrypted"):
        Cipher(new_key()).decrypt(token)
    with pytest.raises(OutboundConfigError, match="not set"):
        Cipher(None)
    with pytest.raises(OutboundConfigError, match="not a valid Fernet key"):
        Cipher("short")


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://127.0.0.1:9/x",
                                 "http://localhost/x", "http://[::1]:80/"])
def test_valid_urls(url: str) -> None:
    assert validate_url(url) == url


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/x", "https://"), ("http://example.com/x", "loopback"),
    ("https://user:pw@example.com/", "user name"), ("https:///nohost", "no host"),
    ("https://example.com/a b", "whitespace"), ("", "characters"),
    ("https://example.com:99999/", "not valid"), ("javascript:alert(1)", "https://"),
])
def test_invalid_urls(url: str, why: str) -> None:
    with pytest.raises(OutboundConfigError, match=why):
        validate_url(url)


def test_http_allowed_when_configured() -> None:
    assert validate_url("http://example.com/x", allow_http=True)


def test_email_validation() -> None:
    assert validate_email(" ops@example.com ") == "ops@example.com"
    for bad in ("ops", "ops@localhost", "a b@example.com", "x@y.z>"):
        with pytest.raises(OutboundConfigError):
            validate_email(bad)


def test_same_origin() -> None:
    assert same_origin("https://a.example/x", "https://a.example/y?z")
    assert not same_origin("https://a.example/x", "https://b.example/x")
    assert not same_origin("https://a.example/x", "http://a.example/x")
    assert not same_origin("http://127.0.0.1:80/x", "http://127.0.0.1:81/x")


TIMING = Timing(fire_after=60, resolve_after=120, hysteresis_pct=10)
BACKLOG = RULES_BY_NAME["queue_backlog"]


def obs(value: float, bad: bool) -> Observation:
    return Observation(bad, value, 100.0, f"{value} pending")


def run(values: list[tuple[int, float, bool]], rule=BACKLOG, timing=TIMING):  # type: ignore[no-untyped-def]
    state: State | None = None
    events = []
    for t, v, bad in values:
        state, ev = step(rule, state, obs(v, bad), T0 + timedelta(seconds=t), timing)
        if ev:
            events.append((t, ev))
    return state, events


def test_fires_only_after_the_minimum_duration() -> None:
    _, events = run([(0, 150, True), (30, 150, True), (59, 150, True), (60, 150, True)])
    assert events == [(60, "firing")]


def test_a_short_spike_does_not_fire() -> None:
    _, events = run([(0, 150, True), (30, 150, True), (45, 50, False), (200, 150, True)])
    assert events == []


def test_flapping_around_the_threshold_pages_once() -> None:
    # fires, then hovers between 95 and 105: inside the 10 % band it never resolves
    seq = [(0, 150, True), (60, 150, True)]
    seq += [(60 + 15 * i, 95 if i % 2 else 105, i % 2 == 0) for i in range(1, 40)]
    state, events = run(seq)
    assert events == [(60, "firing")]
    assert state is not None and state.status in ("firing", "resolving")


def test_resolves_after_clear_for_resolve_duration() -> None:
    state, events = run([(0, 150, True), (60, 150, True), (100, 80, False), (150, 80, False),
                         (219, 80, False), (220, 80, False)])
    assert events == [(60, "firing"), (220, "resolved")]
    assert state is not None and state.status == "ok"


def test_back_into_the_band_while_resolving_keeps_firing() -> None:
    _, events = run([(0, 150, True), (60, 150, True), (100, 80, False), (200, 95, False),
                     (230, 80, False), (349, 80, False), (350, 80, False)])
    assert events == [(60, "firing"), (350, "resolved")]


def test_lower_is_bad_rule_uses_distance_to_100() -> None:
    rule = RULES_BY_NAME["webhook_success"]  # threshold 95: clears at >= 95.5
    t = Timing(0, 0, 10)
    s, ev = step(rule, None, Observation(True, 90, 95, ""), T0, t)
    assert ev == "firing"
    s, ev = step(rule, s, Observation(False, 95.2, 95, ""), T0, t)
    assert ev is None
    s, ev = step(rule, s, Observation(False, 95.6, 95, ""), T0, t)
    assert ev == "resolved"


def test_liveness_rule_without_value_hysteresis() -> None:
    rule = RULES_BY_NAME["no_live_worker"]
    t = Timing(10, 10, 0)
    s, ev = step(rule, None, Observation(True, 0, 1, "no worker"), T0, t)
    assert (s.status, ev) == ("pending", None)
    s, ev = step(rule, s, Observation(True, 0, 1, "no worker"), T0 + timedelta(seconds=15), t)
    assert ev == "firing"
    s, ev = step(rule, s, Observation(False, 1, 1, ""), T0 + timedelta(seconds=30), t)
    assert ev is None and s.status == "resolving"
    s, ev = step(rule, s, Observation(False, 2, 1, ""), T0 + timedelta(seconds=45), t)
    assert ev == "resolved" and s.status == "ok"


def test_slack_and_email_rendering() -> None:
    payload = {"type": "alert.firing", "timestamp": "2026-01-01T00:00:00Z", "data": {
        "title": "No live worker", "severity": "critical", "message": "0 workers <b>",
        "dashboard_url": "https://vt.example/admin"}}
    slack = json.loads(slack_body(payload))
    assert slack["text"].startswith("[FIRING] No live worker (critical): 0 workers")
    assert "<https://vt.example/admin|Open the dashboard>" in slack["text"]
    assert any(b["type"] == "actions" and b["elements"][0]["url"] == "https://vt.example/admin"
               for b in slack["blocks"])
    mail = email_message(payload)
    assert mail.subject == "vitaltrust [FIRING] No live worker (critical)"
    assert "Dashboard: https://vt.example/admin" in mail.text
    assert "0 workers &lt;b&gt;" in mail.html and "0 workers <b>" not in mail.html
