"""`vitaltrust selftest --url URL --token ADMIN_TOKEN [--json] [--check NAME]`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vitaltrust.selftest.checks import CHECKS
from vitaltrust.selftest.runner import DEFAULT_DEADLINE, Report, run_selftest, unknown_checks

USAGE_ERROR = 2


def print_table(report: Report) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="vitaltrust selftest", show_lines=True, expand=False)
    for column in ("check", "result", "duration", "detail"):
        table.add_column(column)
    for r in report.results:
        result = Text("PASS", style="green") if r.ok else Text("FAIL", style="bold red")
        table.add_row(r.check, result, f"{r.duration_ms / 1000:.2f} s", Text(r.detail))
    console.print(table)
    if report.cleanup != "ok":
        console.print(Text(f"cleanup: {report.cleanup}", style="yellow"))


async def _run(url: str, token: str, checks: list[str] | None, deadline: float) -> Report:
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30) as http:
        return await run_selftest(http, token, checks, deadline)


def register(app: typer.Typer) -> None:
    @app.command("selftest")
    def selftest(
        url: Annotated[str, typer.Option(help="The deployment's base URL.")],
        token: Annotated[str, typer.Option(help="An admin's API token (`vitaltrust users token`).",
                                           envvar="VITALTRUST_SELFTEST_TOKEN")],
        check: Annotated[list[str] | None, typer.Option(
            help=f"Run only this check (repeatable): {', '.join(CHECKS)}.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
        deadline: Annotated[float, typer.Option(
            help="Seconds a cache refresh may take.", min=0.1)] = DEFAULT_DEADLINE,
    ) -> None:
        """Check a live deployment through its public HTTP API, in a sandbox it cleans up:
        accuracy, cache invalidation, conflict resolution, rate limiting, idempotency.
        Exit 0 only when every check passes."""
        if bad := unknown_checks(check):
            typer.echo(f"error: unknown check(s) {', '.join(bad)}; known: {', '.join(CHECKS)}",
                       err=True)
            raise typer.Exit(USAGE_ERROR)
        try:
            report = asyncio.run(_run(url, token, check or None, deadline))
        except httpx.HTTPError as exc:
            typer.echo(f"error: cannot reach {url}: {exc}", err=True)
            raise typer.Exit(1) from None
        if as_json:
            typer.echo(json.dumps(report.as_json(), indent=2))
        else:
            print_table(report)
        raise typer.Exit(0 if report.ok else 1)
