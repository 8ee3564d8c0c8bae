"""`vitaltrust calibrate`: does the confidence score predict how wrong the data is?

Simulates `--users` clients from `--seed`, runs them through the in-process path, scores
them with model v1 and v2, prints a JSON summary (Spearman rho, error per level, plot
paths) and writes one reliability plot per metric to `--out`. `--fit SEEDS` instead fits
v2's coefficients and device-error table on those seeds and prints them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vitaltrust.calibration.fit import fit
from vitaltrust.calibration.measure import reliability, summarise
from vitaltrust.calibration.plots import reliability_svg
from vitaltrust.calibration.run import VERSIONS, Outcomes, run
from vitaltrust.calibration.simulate import METRICS
from vitaltrust.cli import fail

MAX_USERS = 100_000


def _run(seed: int, users: int, processes: int, show: bool) -> Outcomes:
    progress = Progress(TextColumn(f"[bold]seed {seed}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=Console(stderr=True), transient=True,
                        disable=not show)
    with progress:
        task = progress.add_task("users", total=users)
        return run(seed, users, processes=processes,
                   progress=lambda n: progress.advance(task, n))


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        fail(f"--fit takes comma-separated integer seeds, not {text!r}")
    return seeds


def write_plots(out: Path, outcomes: Outcomes) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for metric in (*METRICS, "pooled"):
        series = {v: reliability([o for o in outcomes[v] if metric == "pooled" or o.metric == metric])
                  for v in VERSIONS}
        if not any(series.values()):
            continue
        path = out / f"reliability-{metric}.svg"
        path.write_text(reliability_svg(f"{metric}: score vs 30-day error", series))
        paths[metric] = str(path)
    return paths


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        users: Annotated[int, typer.Option(help="Simulated clients.", min=1, max=MAX_USERS)] = 2000,
        seed: Annotated[int, typer.Option(help="Seed of the simulation (same seed, same run).")]
            = 1,
        out: Annotated[Path, typer.Option(help="Directory for the reliability plots (SVG).")]
            = Path("calibration-out"),
        processes: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 2,
        fit_seeds: Annotated[str | None, typer.Option(
            "--fit", help="Fit model v2 on these seeds (e.g. 1001,1002) and print it.")] = None,
        progress: Annotated[bool, typer.Option(help="Progress bar on a terminal.")] = True,
    ) -> None:
        """Measure how well the confidence score ranks the real error of simulated data."""
        show = progress and sys.stderr.isatty()
        started = time.perf_counter()
        if fit_seeds is not None:
            collected = []
            for s in _seeds(fit_seeds):
                collected += _run(s, users, processes, show)["1"]
            coefficients, per_metric, table = fit(collected)
            typer.echo(json.dumps({"fit_seeds": _seeds(fit_seeds), "users_per_seed": users,
                                   "pairs": len(collected), "coefficients": coefficients,
                                   "metric_coefficients": per_metric, "device_error": table,
                                   "seconds": round(time.perf_counter() - started, 1)}, indent=2))
            return
        outcomes = _run(seed, users, processes, show)
        summary: dict[str, Any] = {"seed": seed, "users": users, "error": "normalised 30-day series MAE",
                                   "models": {v: summarise(outcomes[v], METRICS) for v in VERSIONS}}
        summary["plots"] = write_plots(out, outcomes)
        summary["seconds"] = round(time.perf_counter() - started, 1)
        typer.echo(json.dumps(summary, indent=2))
