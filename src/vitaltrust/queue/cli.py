"""`vitaltrust jobs ...`: operator commands for the job queue."""

from __future__ import annotations

from typing import Annotated

import typer

RETRY_FAILED = "SELECT retry_failed_jobs(%s) AS n"


def register(app: typer.Typer) -> None:
    from vitaltrust.cli import cli_transaction, friendly_errors, run, settings

    jobs_app = typer.Typer(help="The job queue.", no_args_is_help=True)
    app.add_typer(jobs_app, name="jobs")

    @jobs_app.command("retry-failed")
    @friendly_errors
    def retry_failed(job_type: Annotated[str | None, typer.Option(
            "--type", help="Only this job type (default: all).")] = None) -> None:
        """Requeue failed jobs with a fresh set of attempts; prints how many."""
        s = settings()

        async def go() -> int:
            async with cli_transaction(s) as conn:
                row = await (await conn.execute(RETRY_FAILED, (job_type,))).fetchone()
            return int(row["n"]) if row else 0

        n = run(go())
        typer.echo(f"requeued {n} failed job(s)" + (f" of type {job_type}" if job_type else ""))
