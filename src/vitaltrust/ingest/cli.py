"""Ingestion commands beyond `sources create/link` (which live in vitaltrust/cli.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from vitaltrust.auth.users import UserError

STATUSES = ("unmatched", "failed")


def register(app: typer.Typer) -> None:
    from vitaltrust.cli import cli_transaction, friendly_errors, run, settings, sources_app
    from vitaltrust.ingest.sources import reprocess_events

    @sources_app.command("reprocess")
    @friendly_errors
    def sources_reprocess(
        name: Annotated[str, typer.Argument(help="Source name.")],
        status: Annotated[list[str] | None, typer.Option(
            help="Event status to reprocess (repeatable): unmatched, failed.")] = None,
    ) -> None:
        """Queue a source's unmatched (default) or failed events for processing again."""
        statuses = status or ["unmatched"]
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise UserError(f"status must be one of {', '.join(STATUSES)}, not {bad[0]!r}")
        s = settings()

        async def go() -> int:
            async with cli_transaction(s) as conn:
                return await reprocess_events(conn, name, statuses)

        typer.echo(f"queued {run(go())} event(s) of {name} for processing")
