"""`vitaltrust bench confidence`: time the pure model on a year of data from 3 sources.

The series is built in memory (no database): a scale every morning, a watch 20 minutes later
(a conflict group each day) and a manual entry every evening, about 1,100 samples a year,
with a few impossible values and one unit slip. Target: under 5 ms median per score.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from vitaltrust.confidence.catalog import BUILTIN_SPECS
from vitaltrust.confidence.model import score
from vitaltrust.confidence.types import Sample

TARGET_MS = 5.0
# (typical value, day-to-day noise) per metric, canonical units
TYPICAL = {"weight": (80.0, 0.3), "body_fat": (20.0, 0.4), "resting_heart_rate": (55.0, 3.0),
           "heart_rate": (70.0, 8.0), "hrv_rmssd": (50.0, 8.0), "hrv_sdnn": (60.0, 8.0),
           "steps": (9000.0, 2500.0), "sleep_duration": (26000.0, 2400.0),
           "blood_pressure_systolic": (120.0, 5.0), "blood_pressure_diastolic": (78.0, 4.0),
           "spo2": (97.0, 1.0), "vo2max": (45.0, 0.8)}
SOURCES = ((1, "scale", timedelta(hours=7)), (2, "watch", timedelta(hours=7, minutes=20)),
           (3, "manual", timedelta(hours=20)))


def build_series(metric: str, days: int, per_day: int, now: datetime, seed: int = 7) -> list[Sample]:
    """`days` days ending at `now`, each source `per_day` times a day, in shuffled order."""
    spec = BUILTIN_SPECS[metric]
    typical, noise = TYPICAL[metric]
    rnd = random.Random(seed)
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    samples = []
    for day in range(days + 1):
        midnight = start + timedelta(days=day)
        for source_id, device, offset in SOURCES:
            for k in range(per_day):
                at = midnight + offset + timedelta(hours=24 * k / per_day,
                                                   seconds=rnd.randint(0, 300))
                if at > now:
                    continue
                value = round(typical + rnd.gauss(0, noise), 1)
                if rnd.random() < 0.003:
                    value = spec.hard_max * 1.5
                samples.append(Sample(value=value, measured_at=at, local_date=at.date(),
                                      source_id=source_id, device_type=device,
                                      received_at=at + timedelta(minutes=rnd.randint(1, 90)),
                                      source_name=device))
    if metric == "weight" and samples:
        slip = samples[-5]
        samples[-5] = Sample(round(slip.value * 2.2046, 1), slip.measured_at, slip.local_date,
                             slip.source_id, slip.device_type, slip.received_at)
    rnd.shuffle(samples)
    return samples


def measure(samples: list[Sample], metric: str, now: datetime,
            runs: int) -> tuple[list[float], list[float]]:
    """(wall-clock ms, CPU ms) per run; on a shared machine the CPU time shows the model's own
    cost, the wall clock what a caller waits."""
    spec = BUILTIN_SPECS[metric]
    for _ in range(min(20, runs)):
        score(samples, spec, now)
    wall, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.thread_time(), time.perf_counter()
        score(samples, spec, now)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return wall, cpu


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("confidence")
    def confidence(
        days: Annotated[int, typer.Option(help="Days of history.", min=1)] = 365,
        per_day: Annotated[int, typer.Option(help="Readings per source per day.", min=1)] = 1,
        runs: Annotated[int, typer.Option(help="Timed runs.", min=1)] = 500,
        metric: Annotated[str, typer.Option(help="Metric code.")] = "weight",
    ) -> None:
        """Score a multi-source series with the pure model; JSON with median/p95 ms."""
        if metric not in BUILTIN_SPECS:
            typer.echo(f"error: unknown metric {metric!r}", err=True)
            raise typer.Exit(2)
        now = datetime.now(UTC).replace(microsecond=0)
        samples = build_series(metric, days, per_day, now)
        wall, cpu = measure(samples, metric, now, runs)
        timings = sorted(wall)
        result = score(samples, BUILTIN_SPECS[metric], now)
        median = statistics.median(timings)
        report = {
            "scenario": "confidence", "metric": metric, "days": days, "sources": len(SOURCES),
            "per_day": per_day, "samples": len(samples), "samples_in_window": result.sample_count,
            "runs": runs, "median_ms": round(median, 3),
            "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 3),
            "min_ms": round(timings[0], 3), "cpu_median_ms": round(statistics.median(cpu), 3),
            "target_median_ms": TARGET_MS,
            "meets_target": median < TARGET_MS, "score": result.score, "level": result.level,
            "conflicts": len(result.conflicts),
        }
        typer.echo(json.dumps(report, indent=2))
