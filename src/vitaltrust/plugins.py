"""Where domain command groups join the CLI. One line per domain; keep it that way."""

from __future__ import annotations

import typer


def register_cli(app: typer.Typer) -> None:
    pass
