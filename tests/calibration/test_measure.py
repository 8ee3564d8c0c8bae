"""Measurement helpers: ranks, Spearman, levels, reliability bins, the SVG plot."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vitaltrust.calibration.measure import Outcome, by_level, monotone, ranks, reliability, spearman
from vitaltrust.calibration.plots import reliability_svg


def outcome(score: float, level: str, error: float, metric: str = "weight") -> Outcome:
    return Outcome(0, metric, score, level, error, error, {}, (), {}, {})


def test_ranks_share_ties_and_spearman_matches_known_values() -> None:
    assert ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # scipy.stats.spearmanr([1,2,3,4,5],[2,1,4,3,5]) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1, 2], [1, 2]) is None


def test_levels_must_strictly_increase_in_error_where_there_is_enough_data() -> None:
    good = ([outcome(90, "excellent", 0.1)] * 25 + [outcome(75, "good", 0.3)] * 25
            + [outcome(60, "fair", 0.6)] * 25 + [outcome(20, "poor", 1.5)] * 3)
    levels = by_level(good)
    assert levels["poor"]["n"] == 3
    assert monotone(levels) is True  # poor has too few pairs to count
    bad = good + [outcome(72, "good", 5.0)] * 60
    assert monotone(by_level(bad)) is False
    assert monotone(by_level([outcome(90, "excellent", 0.1)] * 30)) is None


def test_reliability_bins_and_plot() -> None:
    outs = [outcome(s, "good", e) for s, e in ((95, 0.1), (91, 0.2), (55, 1.0), (52, 1.2),
                                               (51, 0.8), (100, 0.05))]
    bins = reliability(outs)
    assert [(b["low"], b["n"]) for b in bins] == [(50.0, 3), (90.0, 3)]
    assert bins[0]["median_error"] == 1.0
    svg = reliability_svg("weight <test>", {"1": bins, "2": bins[:1]})
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert len(root.findall(f"{ns}polyline")) == 2
    assert "weight &lt;test&gt;" in svg
