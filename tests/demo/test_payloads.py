"""The demo's deliveries are what the real adapters read and the real checks accept."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime

from vitaltrust.demo.payloads import SOURCES, deliveries, signed_headers
from vitaltrust.demo.profiles import clients, history
from vitaltrust.ingest.adapters import ADAPTERS
from vitaltrust.ingest.signatures import verify
from vitaltrust.ingest.sources import new_secret

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def test_every_reading_arrives_through_the_real_adapter_with_its_value() -> None:
    for c in clients()[:12]:  # garmin, oura and fitbit wearers, scales, cuffs, manual
        readings = history(c, NOW)
        parsed = []
        for d in deliveries(c, readings):
            result = ADAPTERS[SOURCES[d.source]](json.loads(d.body))
            assert not result.rejections
            assert {s.external_user_id for s in result.samples} == {d.account}
            parsed += result.samples
        assert Counter(s.metric for s in parsed) == Counter(r.metric for r in readings)
        weights = sorted(s.value / (1000 if s.unit == "g" else 1) for s in parsed
                         if s.metric == "weight")
        assert weights == sorted(r.value for r in readings if r.metric == "weight")


def test_signatures_verify_like_the_providers() -> None:
    c = clients()[0]
    now = time.time()
    for d in deliveries(c, history(c, NOW)[:20]):
        kind = SOURCES[d.source]
        secret, key, digest = new_secret(kind)
        headers = signed_headers(kind, secret, d, now)
        event_id = verify(kind, headers, d.body, signing_keys=[key] if key else [],
                          secret_hashes=[digest] if digest else [], garmin_client_id=None,
                          now=now, tolerance=300)
        # terra's reference header is not signed: the server keys terra events by body hash
        assert event_id == (None if kind in ("garmin", "terra") else d.event_id)
        # a resend carries the same event id (the server answers "duplicate")
        assert signed_headers(kind, secret, d, now + 60).get("webhook-id") == headers.get(
            "webhook-id")


def test_history_deliveries_stay_far_below_the_body_limit() -> None:
    c = clients()[0]
    assert all(len(d.body) < 256 * 1024 for d in deliveries(c, history(c, NOW)))
