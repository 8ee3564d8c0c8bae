"""`vitaltrust bench SCENARIO`: each scenario lives in `bench/<name>.py` and exposes
`register(bench_app: typer.Typer) -> None`. Scenarios print JSON on stdout."""

from __future__ import annotations

import importlib
import pkgutil

import typer

import vitaltrust.bench as bench_pkg

bench_app = typer.Typer(help="Benchmark scenarios (JSON output).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    for info in pkgutil.iter_modules(bench_pkg.__path__):
        if info.name in ("cli", "common") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"vitaltrust.bench.{info.name}")
        if hasattr(module, "register"):
            module.register(bench_app)
    app.add_typer(bench_app, name="bench")
