"""The simulator is reproducible from its seed and produces every failure mode it claims."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from vitaltrust.calibration.pipeline import store, window
from vitaltrust.calibration.run import ANCHOR, run_users
from vitaltrust.calibration.simulate import LB_PER_KG, METRICS, simulate_user
from vitaltrust.confidence.catalog import BUILTIN_SPECS

USERS = 150


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = [simulate_user(3, i, ANCHOR) for i in range(5)]
    b = [simulate_user(3, i, ANCHOR) for i in range(5)]
    c = [simulate_user(4, i, ANCHOR) for i in range(5)]
    assert [(u.truth, d) for u, d in a] == [(u.truth, d) for u, d in b]
    assert [d for _, d in a] != [d for _, d in c]
    # a user's data does not depend on how many users the run has
    assert simulate_user(3, 4, ANCHOR) == a[4]


def test_the_failure_modes_all_occur() -> None:
    seen: Counter[str] = Counter()
    for i in range(USERS):
        user, deliveries = simulate_user(7, i, ANCHOR)
        for notes in user.notes.values():
            seen.update(n.split(":")[0] for n in notes)
        ids = Counter((d.source, d.message_id) for d in deliveries)
        bodies = Counter((d.source, repr(d.body)) for d in deliveries)
        seen["same_message_twice"] += sum(n > 1 for n in ids.values())
        seen["same_body_new_message"] += sum(n > 1 for n in bodies.values()) - sum(
            n > 1 for n in ids.values())
        seen["two_sources"] += sum(len(s) > 1 for s in user.devices.values())
        for d in deliveries:
            for s in d.body["samples"]:
                if s["metric"] == "weight" and s["unit"] == "kg":
                    truth = user.truth["weight"][datetime.fromisoformat(s["measured_at"]).date()]
                    seen["unit_slip"] += abs(s["value"] / LB_PER_KG - truth) < 5 < s["value"] - truth
                seen["lb_scale"] += s["unit"] == "lb"
                seen["impossible"] += s["value"] in (999.0, 250000.0, 300.0, 0.0, 40.0)
    for mode in ("gap", "stale", "tz_error", "same_message_twice", "same_body_new_message",
                 "two_sources", "unit_slip", "lb_scale", "impossible"):
        assert seen[mode] > 0, mode


def test_the_in_process_store_keeps_one_row_per_source_and_time() -> None:
    user, deliveries = simulate_user(7, 1, ANCHOR)
    doubled = [*deliveries, *deliveries]  # every delivery again, same message ids
    stored = store(user, doubled, BUILTIN_SPECS, ANCHOR)
    assert stored == store(user, deliveries, BUILTIN_SPECS, ANCHOR)
    for samples in stored.values():
        keys = [(s.source_id, s.measured_at) for s in samples]
        assert len(keys) == len(set(keys))
        assert all(s.measured_at <= ANCHOR for s in window(samples, ANCHOR))


def test_a_run_is_reproducible_and_measures_every_metric() -> None:
    first = run_users(11, 0, 12)
    assert first == run_users(11, 0, 12)
    assert {o.metric for o in first["1"]} == set(METRICS)
    assert [(o.user, o.metric) for o in first["1"]] == [(o.user, o.metric) for o in first["2"]]
    assert all(o.series_error >= 0 and o.latest_error >= 0 for o in first["1"])


def test_the_anchor_is_fixed() -> None:
    assert datetime(2026, 11, 28, 12, tzinfo=UTC) == ANCHOR
