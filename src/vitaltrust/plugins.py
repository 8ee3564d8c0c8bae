"""Domain command groups join the CLI here, by discovery: a domain that has a `cli.py`
with `register(app: typer.Typer) -> None` gets it called. No shared list to edit."""

from __future__ import annotations

import importlib
import pkgutil

import typer

import vitaltrust

DOMAINS = ("queue", "ingest", "metrics", "confidence", "monitoring", "auth", "selftest", "bench",
           "demo", "ops", "alerts", "calibration")


def register_cli(app: typer.Typer) -> None:
    present = {m.name for m in pkgutil.iter_modules(vitaltrust.__path__)}
    for domain in DOMAINS:
        if domain not in present:
            continue
        try:
            module = importlib.import_module(f"vitaltrust.{domain}.cli")
        except ModuleNotFoundError as exc:
            if exc.name == f"vitaltrust.{domain}.cli":
                continue
            raise
        module.register(app)
