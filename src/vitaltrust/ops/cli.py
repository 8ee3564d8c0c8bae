"""`vitaltrust doctor` and `vitaltrust logs`."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vitaltrust.ops.doctor import CHECK_NAMES, diagnose
from vitaltrust.ops.judges import Check, Thresholds, judge_database, overall, skipped
from vitaltrust.ops.logs import (
    FUNCTIONS,
    LogEntry,
    format_entry,
    last_id,
    levels_from,
    parse_duration,
    read_logs,
    read_newer,
)

STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
USAGE_ERROR = 2


def _duration_option(text: str, option: str) -> float:
    from vitaltrust.cli import fail

    try:
        return parse_duration(text, option).total_seconds()
    except ValueError as exc:
        fail(str(exc), USAGE_ERROR)
        raise


def _print_checks(checks: list[Check]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="vitaltrust doctor", show_lines=True, expand=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("measured")
    table.add_column("fix to try")
    for c in checks:
        if c.status == "skip":
            continue
        measured = Text(c.value)
        for d in c.details:
            measured.append("\n" + d, style="dim")
        table.add_row(c.name, Text(c.status.upper(), style=STYLE[c.status]), measured, Text(c.fix))
    console.print(table)
    not_run = [c for c in checks if c.status == "skip"]
    if not_run:
        console.print(Text(f"{len(not_run)} other check(s) not run: {not_run[0].value}", style="dim"))
    verdict = overall(checks)
    console.print(Text(f"overall: {verdict.upper()}", style=STYLE[verdict]))


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    max_pending: Annotated[int, typer.Option(
        help="Warn when this many jobs are pending (the dashboard's threshold).", min=1)] = 100,
    max_pending_age: Annotated[str, typer.Option(
        help="Fail when a runnable job has waited longer than this (30s, 5m, 1h).")] = "5m",
    min_webhook_success: Annotated[float, typer.Option(
        help="Warn unless the 24 h webhook success rate is above this, in percent.", min=0, max=100)] = 95.0,
    lease_grace: Annotated[str, typer.Option(
        help="Fail when a processing job's lease expired longer ago than this.")] = "2m",
) -> None:
    """Run the troubleshooting list against the configured database (exit 1 on any fail)."""
    from vitaltrust.cli import run, settings
    from vitaltrust.db import resolve_database_url

    t = Thresholds(max_pending=max_pending,
                   max_pending_age_seconds=_duration_option(max_pending_age, "--max-pending-age"),
                   min_webhook_success_pct=min_webhook_success,
                   lease_grace_seconds=_duration_option(lease_grace, "--lease-grace"))
    s = settings()
    try:
        url = resolve_database_url(s)
    except Exception as exc:  # the embedded server failed to start: still one fail line
        checks = [judge_database(f"{type(exc).__name__}: {exc}", [], []),
                  *skipped(CHECK_NAMES[1:], "not measured: no database")]
    else:
        checks = run(diagnose(url, t))
    verdict = overall(checks)
    if as_json:
        typer.echo(json.dumps({"status": verdict, "ok": verdict != "fail",
                               "thresholds": t.__dict__, "checks": [c.as_json() for c in checks]},
                              default=str))
    else:
        _print_checks(checks)
    if verdict == "fail":
        raise typer.Exit(1)


def logs(
    function: Annotated[str | None, typer.Option(
        "--function", help=f"Only this function: {' or '.join(FUNCTIONS)}.")] = None,
    since: Annotated[str | None, typer.Option(help="Only entries this recent: 30m, 1h, 2d.")] = None,
    level: Annotated[str | None, typer.Option(
        help="Minimum level: error, warning, info or debug.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new entries.")] = False,
    limit: Annotated[int, typer.Option(help="Show at most this many past entries.", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    poll: Annotated[float, typer.Option(help="--follow polling interval, seconds.", min=0.05)] = 1.0,
) -> None:
    """Read edge_function_logs (the job worker's and ingestion's events), one line per entry."""
    from vitaltrust.cli import fail, friendly_errors, run, settings
    from vitaltrust.db import connect, resolve_database_url

    if function is not None and function not in FUNCTIONS:
        fail(f"--function must be {' or '.join(FUNCTIONS)}, not {function!r}", USAGE_ERROR)
    window = None if since is None else _duration_option(since, "--since")
    try:
        levels = levels_from(level)
    except ValueError as exc:
        fail(str(exc), USAGE_ERROR)

    def show(entries: list[LogEntry]) -> None:
        for e in entries:
            typer.echo(json.dumps(e.as_json(), default=str) if as_json else format_entry(e))

    async def go() -> None:
        s = settings()
        conn = await connect(resolve_database_url(s))
        try:
            after = await last_id(conn)
            past = await read_logs(conn, function=function, levels=levels,
                                   since=None if window is None else timedelta(seconds=window), limit=limit)
            show(past)
            after = max([after, *(e.id for e in past)])
            while follow:
                await asyncio.sleep(poll)
                upto = await last_id(conn)
                show(await read_newer(conn, after_id=after, upto_id=upto, function=function,
                                      levels=levels))
                after = max(after, upto)
        finally:
            await conn.close()

    friendly_errors(lambda: run(go()))()


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.command("logs")(logs)
