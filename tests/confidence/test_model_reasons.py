"""One fixture series per reason code: the numbers and a sentence a trainer can read."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.confidence.series import NOW, at, daily, reason, run, sample
from vitaltrust.confidence.types import Confidence, Sample


def _stale() -> Confidence:
    return run([sample(80.0, at(6 + d, hours=1)) for d in range(20)])


def _low_coverage() -> Confidence:
    return run([sample(80.0, at(d, hours=1)) for d in range(0, 30, 2)])


def _implausible() -> Confidence:
    return run([*daily([80.0] * 10, hours=3), sample(412.0, at(2), source=2, device="manual")])


def _rapid_change() -> Confidence:
    return run(daily([80.0] * 9 + [83.1]))


def _outlier() -> Confidence:
    return run(daily([80.0, 80.2, 79.9, 80.1] * 5 + [86.0] + [80.0] * 9))


def _source_conflict() -> Confidence:
    scale_at = datetime(2026, 11, 12, 7, 0, tzinfo=UTC)
    return run([*daily([80.0] * 20), sample(80.2, scale_at, device="scale"),
                sample(83.0, scale_at + timedelta(minutes=10), source=2, device="manual")])


def _low_trust() -> Confidence:
    return run(daily([80.0] * 10, device="manual"))


def _unit_slip() -> Confidence:
    return run([*daily([80.0] * 10, hours=3), sample(176.4, at(1), source=2, device="manual")])


def _insufficient() -> Confidence:
    return run(daily([80.0] * 2))


FIXTURES: dict[str, Callable[[], Confidence]] = {
    "STALE": _stale, "LOW_COVERAGE": _low_coverage, "IMPLAUSIBLE_VALUE": _implausible,
    "RAPID_CHANGE": _rapid_change, "OUTLIER": _outlier, "SOURCE_CONFLICT": _source_conflict,
    "LOW_TRUST_SOURCE": _low_trust, "UNIT_SLIP": _unit_slip, "INSUFFICIENT_DATA": _insufficient,
}

EXPECTED = {
    "STALE": ("no weight for 6 days (expected daily); score capped at 49",
              {"days": 6.0, "expected_days": 1.0, "capped_at": 49.0}),
    "LOW_COVERAGE": ("15/30 days with data", {"buckets_with_data": 15, "buckets": 30}),
    "IMPLAUSIBLE_VALUE": ("1 of 11 weight values impossible (latest 412.0 kg on 26 Nov, allowed "
                          "25.0 kg to 350.0 kg); score capped at 69", {"count": 1, "value": 412.0}),
    "RAPID_CHANGE": ("+3.1 kg in 24 h on 28 Nov (limit 2 % per 24 h)", {"count": 1}),
    "OUTLIER": ("86.0 kg on 19 Nov is far from nearby values (median 80.0 kg)",
                {"count": 1, "value": 86.0}),
    "SOURCE_CONFLICT": ("scale 80.2 kg vs manual 83.0 kg on 12 Nov",
                        {"winner_value": 80.2, "loser_value": 83.0, "difference": 2.8}),
    "LOW_TRUST_SOURCE": ("10 of 10 values from manual (trust 75/100)", {"trust": 75.0}),
    "UNIT_SLIP": ("176.4 kg on 27 Nov looks like 80.0 kg entered in lb",
                  {"value": 176.4, "reference": 80.0}),
    "INSUFFICIENT_DATA": ("only 2 valid weight values in 30 days (need 3)", {"count": 2}),
}


@pytest.mark.parametrize("code", sorted(FIXTURES))
def test_each_reason_code_has_its_numbers_and_plain_words(code: str) -> None:
    conf = FIXTURES[code]()
    found = reason(conf, code)
    message, numbers = EXPECTED[code]
    assert found["message"] == message
    assert {k: found[k] for k in numbers} == numbers
    json.dumps(conf.explanation())  # cacheable as JSON


def test_component_reasons_sit_under_their_component() -> None:
    owners = {"STALE": "F", "LOW_COVERAGE": "C", "IMPLAUSIBLE_VALUE": "P", "RAPID_CHANGE": "P",
              "UNIT_SLIP": "P", "OUTLIER": "O", "LOW_TRUST_SOURCE": "R", "SOURCE_CONFLICT": "A"}
    for code, owner in owners.items():
        conf = FIXTURES[code]()
        holders = [c.code for c in conf.components for r in c.reasons if r["code"] == code]
        assert holders == [owner], code


def test_explanation_has_the_documented_shape() -> None:
    explanation = _source_conflict().explanation()
    assert set(explanation) >= {"score", "level", "model_version", "window_days", "computed_at",
                                "sample_count", "components"}
    assert explanation["model_version"] == "1" and explanation["window_days"] == 30
    assert [c["code"] for c in explanation["components"]] == ["F", "C", "P", "O", "R", "A"]
    assert explanation["computed_at"] == NOW.isoformat()


def test_friendly_units_in_messages() -> None:
    sleep = run([*daily([7.5 * 3600] * 5, device="ring"),
                 sample(5 * 3600, at(0, hours=1), source=2, device="watch")], metric="sleep_duration")
    assert reason(sleep, "SOURCE_CONFLICT")["message"] == "ring 7.5 h vs watch 5.0 h on 28 Nov"
    steps = run(daily([800] * 4, device="manual"), metric="steps")
    assert reason(steps, "LOW_TRUST_SOURCE")["message"] == "4 of 4 values from manual (trust 50/100)"
    same_type: list[Sample] = [*daily([62] * 5, device="watch"),
                               sample(75, at(0, hours=1), source=2, device="watch", name="Garmin")]
    conflict = reason(run(same_type, metric="resting_heart_rate"), "SOURCE_CONFLICT")
    assert conflict["message"] == "watch (Garmin) 75 bpm vs watch (source 1) 62 bpm on 28 Nov"
