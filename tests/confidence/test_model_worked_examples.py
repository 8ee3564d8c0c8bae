"""The worked examples of docs/confidence.md, number for number."""

from __future__ import annotations

from tests.confidence.series import at, component, daily, reason, run, sample

MONTH = [80.4, 80.2, 80.3, 80.1, 80.0, 80.2, 79.9, 80.1, 80.0, 79.8, 79.9, 80.0, 79.7, 79.8, 79.9,
         79.6, 79.7, 79.8, 79.5, 79.6, 79.7, 79.4, 79.5, 79.6, 79.3, 79.4, 79.5, 79.2, 79.3, 79.2]


def _scores(conf) -> dict[str, float | None]:
    return {c.code: c.score for c in conf.components}


def test_weight_month_with_a_disagreeing_manual_entry() -> None:
    scale = [s for i, s in enumerate(daily(MONTH, hours=2)) if i not in (5, 11, 20)]
    manual_at = at(1, hours=2, minutes=-10)
    conf = run([*scale, sample(83.0, manual_at, source=2, device="manual")])
    assert _scores(conf) == {"F": 100.0, "C": 90.0, "P": 100.0, "O": 100.0, "R": 95.0, "A": 0.0}
    assert [c.deduction for c in conf.components] == [0.0, 2.5, 0.0, 0.0, 0.8, 10.0]
    assert (conf.score, conf.level) == (86.8, "excellent")
    assert reason(conf, "SOURCE_CONFLICT")["message"] == "scale 79.3 kg vs manual 83.0 kg on 27 Nov"
    agreeing = run([*scale, sample(80.0, manual_at, source=2, device="manual")])
    assert agreeing.score == 96.8


def test_client_stops_weighing() -> None:
    gone = run([sample(v, at(6 + i, hours=1)) for i, v in enumerate(MONTH[:24])])
    assert _scores(gone) == {"F": 0.0, "C": 80.0, "P": 100.0, "O": 100.0, "R": 95.0, "A": None}
    assert (gone.score, gone.level) == (49.0, "poor")
    assert gone.reasons[0]["message"] == "no weight for 6 days (expected daily); score capped at 49"
    decaying = run([sample(v, at(2.75 + i)) for i, v in enumerate(MONTH[:24])])
    assert component(decaying, "F").score == 50.0
    assert (decaying.score, decaying.level) == (82.5, "good")


def test_steps_from_a_watch_and_a_phone() -> None:
    watch = daily([8412, 10230, 7655, 9120, 12004, 6800, 9950], source=1, device="watch", hours=1)
    phone = daily([8100, 9710, 7702, 11890, 11540, 6500, 9700], source=2, device="phone", hours=1.5)
    conf = run([*watch, *phone], metric="steps")
    assert _scores(conf) == {"F": 100.0, "C": 23.3, "P": 100.0, "O": 100.0, "R": 85.0, "A": 85.7}
    assert (conf.score, conf.level) == (77.2, "good")
    assert [s.value for s in conf.resolved] == [8412, 10230, 7655, 9120, 12004, 6800, 9950]


def test_an_impossible_value_and_a_spike() -> None:
    month = daily(MONTH, hours=3)
    month[-2] = sample(81.4, month[-2].measured_at)
    recent = run([*month, sample(412.0, at(2), source=2, device="manual")])
    assert _scores(recent) == {"F": 100.0, "C": 100.0, "P": 93.5, "O": 66.7, "R": 95.0, "A": None}
    assert (recent.score, recent.level) == (69.0, "fair")
    older = run([*month, sample(412.0, at(8), source=2, device="manual")])
    assert (older.score, older.level) == (94.0, "excellent")
    assert older.reasons[0]["code"] == "OUTLIER"


def test_two_weights() -> None:
    conf = run(daily([80.1, 80.3], hours=2))
    assert _scores(conf) == {"F": 100.0, "C": 6.7, "P": 100.0, "O": None, "R": 95.0, "A": None}
    assert (conf.score, conf.level) == (69.9, "insufficient")
