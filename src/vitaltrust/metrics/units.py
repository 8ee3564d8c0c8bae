"""Unit conversion to each metric's canonical unit (pure).

A unit belongs to a dimension and has a factor to that dimension's base; converting is
`value * factor(given) / factor(canonical)`, so only units of the same dimension convert.
"""

from __future__ import annotations

from typing import NamedTuple


class UnitError(ValueError):
    """The unit is unknown, or does not fit the metric (the sample is rejected)."""


class Unit(NamedTuple):
    dimension: str
    factor: float  # in the dimension's base unit (kg, s, %, bpm, count, mmHg, mL/kg/min)


_KG = Unit("mass", 1.0)
_LB = Unit("mass", 0.45359237)
_G = Unit("mass", 0.001)
_ST = Unit("mass", 6.35029318)
_OZ = Unit("mass", 0.028349523125)
_S = Unit("time", 1.0)
_MS = Unit("time", 0.001)
_MIN = Unit("time", 60.0)
_H = Unit("time", 3600.0)
_PCT = Unit("percent", 1.0)
_FRACTION = Unit("percent", 100.0)
_BPM = Unit("rate", 1.0)
_COUNT = Unit("count", 1.0)
_MMHG = Unit("pressure", 1.0)
_KPA = Unit("pressure", 7.50061683)
_VO2 = Unit("vo2", 1.0)

# Spellings providers actually send, lower-cased. Some name the measure rather than the
# unit: Junction documents HRV "measured in rmssd" (milliseconds) and body fat as "perc".
UNITS: dict[str, Unit] = {
    "kg": _KG, "kgs": _KG, "kilogram": _KG, "kilograms": _KG,
    "lb": _LB, "lbs": _LB, "pound": _LB, "pounds": _LB, "[lb_av]": _LB,
    "g": _G, "gram": _G, "grams": _G,
    "st": _ST, "stone": _ST, "stones": _ST,
    "oz": _OZ, "ounce": _OZ, "ounces": _OZ,
    "s": _S, "sec": _S, "secs": _S, "second": _S, "seconds": _S,
    "ms": _MS, "millisecond": _MS, "milliseconds": _MS, "rmssd": _MS, "sdnn": _MS,
    "min": _MIN, "mins": _MIN, "minute": _MIN, "minutes": _MIN,
    "h": _H, "hr": _H, "hrs": _H, "hour": _H, "hours": _H,
    "%": _PCT, "percent": _PCT, "pct": _PCT, "perc": _PCT, "percentage": _PCT,
    "fraction": _FRACTION, "ratio": _FRACTION,
    "bpm": _BPM, "beats/min": _BPM, "count/min": _BPM, "1/min": _BPM, "/min": _BPM,
    "beats per minute": _BPM, "beats/minute": _BPM, "{beats}/min": _BPM,
    "steps": _COUNT, "step": _COUNT, "count": _COUNT, "{steps}": _COUNT,
    "mmhg": _MMHG, "mm hg": _MMHG, "mm[hg]": _MMHG, "kpa": _KPA,
    "ml/kg/min": _VO2, "ml/(kg·min)": _VO2, "ml/(kg*min)": _VO2, "ml/min/kg": _VO2,
    "ml/kg·min": _VO2, "ml/(kg.min)": _VO2,
}


def lookup(unit: str) -> Unit:
    found = UNITS.get(unit.strip().lower())
    if found is None:
        raise UnitError(f"unknown unit {unit!r}")
    return found


def to_canonical(value: float, unit: str | None, canonical_unit: str) -> float:
    """`value` in `unit` expressed in `canonical_unit`; None means already canonical."""
    if unit is None or unit.strip() == "" or unit.strip().lower() == canonical_unit.lower():
        return value
    given, target = lookup(unit), lookup(canonical_unit)
    if given.dimension != target.dimension:
        raise UnitError(f"unit {unit!r} does not fit a metric measured in {canonical_unit}")
    return value * given.factor / target.factor
