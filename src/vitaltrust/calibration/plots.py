"""Reliability plots as standalone SVG (pure: text in, text out; no plotting library).

x: the confidence score in 10-point bins; y: the median normalised 30-day error of the
pairs in the bin, with the interquartile range as a band; one line per model version.
A calibrated score has a line falling from left to right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 50
COLOURS = {"1": "#9a3412", "2": "#1d4ed8"}
LEVEL_LINES = ((50.0, "fair"), (70.0, "good"), (85.0, "excellent"))

Bin = Mapping[str, float | int]


def _x(score: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * score / 100.0


def reliability_svg(title: str, series: Mapping[str, Sequence[Bin]]) -> str:
    """`series`: model version -> bins from measure.reliability."""
    top = max((float(b["q3"]) for bins in series.values() for b in bins), default=1.0)
    top = max(top, 0.5) * 1.05
    plot_h = HEIGHT - TOP - BOTTOM

    def y(err: float) -> float:
        return TOP + plot_h * (1 - min(err, top) / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>']
    for k in range(6):
        value = top * k / 5
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     'stroke="#e5e7eb"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.2f}</text>')
    for score in range(0, 101, 10):
        parts.append(f'<text x="{_x(score):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{score}</text>')
    for at, name in LEVEL_LINES:
        parts.append(f'<line x1="{_x(at):.1f}" x2="{_x(at):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                     'stroke="#9ca3af" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{_x(at) + 3:.1f}" y="{TOP + 12}" fill="#6b7280">{name}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">confidence score</text>')
    parts.append(f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {TOP + plot_h / 2})">median error / tolerance (IQR band)</text>')
    for n, (version, bins) in enumerate(sorted(series.items())):
        colour = COLOURS.get(version, "#111827")
        mids = [(float(b["low"]) + float(b["high"])) / 2 for b in bins]
        if not bins:
            continue
        band = [f"{_x(m):.1f},{y(float(b['q3'])):.1f}" for m, b in zip(mids, bins, strict=True)]
        band += [f"{_x(m):.1f},{y(float(b['q1'])):.1f}" for m, b in reversed(list(zip(mids, bins,
                                                                                      strict=True)))]
        parts.append(f'<polygon points="{" ".join(band)}" fill="{colour}" fill-opacity="0.12"/>')
        line = " ".join(f"{_x(m):.1f},{y(float(b['median_error'])):.1f}"
                        for m, b in zip(mids, bins, strict=True))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for m, b in zip(mids, bins, strict=True):
            parts.append(f'<circle cx="{_x(m):.1f}" cy="{y(float(b["median_error"])):.1f}" r="3" '
                         f'fill="{colour}"><title>{b["n"]} pairs</title></circle>')
        parts.append(f'<text x="{WIDTH - RIGHT - 90}" y="{TOP + 30 + 16 * n}" fill="{colour}">'
                     f'model v{escape(version)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
