"""`vitaltrust confidence recalculate-all`: through the queue (default) or in-process (--now)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vitaltrust.cli import cli_transaction, friendly_errors, run, settings
from vitaltrust.confidence.cache import Pair
from vitaltrust.confidence.jobs import recalculate_pairs
from vitaltrust.config import Settings

confidence_app = typer.Typer(help="Confidence scores.", no_args_is_help=True)

ENQUEUE_ALL = "SELECT * FROM enqueue_initial_confidence_calculations()"
COUNT_OUTSTANDING = """
SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS outstanding,
       count(*) FILTER (WHERE status = 'failed' AND failed_at >= %s) AS failed
FROM background_jobs WHERE type = 'confidence_calculation'
"""
LIVE_WORKERS = """
SELECT count(*) AS n FROM workers
WHERE last_seen_at > now() - make_interval(secs => 3 * heartbeat_seconds)
"""
# Every pair with samples, and every cached pair (whose samples may be gone).
ALL_PAIRS = """
SELECT user_id, metric FROM metric_samples GROUP BY user_id, metric
UNION SELECT user_id, metric FROM metric_confidence_cache
ORDER BY 1, 2
"""


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), transient=False)


async def recalculate_in_process(s: Settings, batch_size: int, show: bool) -> tuple[int, float]:
    """Every pair, `batch_size` pairs per transaction. Returns (pairs, seconds)."""
    async with cli_transaction(s) as conn:
        rows = await (await conn.execute(ALL_PAIRS)).fetchall()
    pairs: list[Pair] = [(r["user_id"], r["metric"]) for r in rows]
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task("recalculating", total=len(pairs), rate="", visible=show)
        for i in range(0, len(pairs), batch_size):
            async with cli_transaction(s, migrate_first=False) as conn:
                done = await recalculate_pairs(conn, pairs[i:i + batch_size],
                                               model_version=s.confidence_model_version)
            elapsed = time.perf_counter() - started
            bar.update(task, advance=done, rate=f"{(i + done) / max(elapsed, 1e-9):,.0f} pairs/s")
    return len(pairs), time.perf_counter() - started


async def recalculate_via_queue(s: Settings, wait: bool, wait_seconds: float, show: bool) -> None:
    started_at = time.time()
    async with cli_transaction(s) as conn:
        created = len(await (await conn.execute(ENQUEUE_ALL)).fetchall())
        workers = (await (await conn.execute(LIVE_WORKERS)).fetchone() or {"n": 0})["n"]
    typer.echo(f"enqueued {created} confidence_calculation job(s)"
               " (pairs already pending were not enqueued twice)")
    if not wait:
        return
    if not workers:
        typer.echo("warning: no live worker; start `vitaltrust worker` (or use --now)", err=True)
    deadline = time.monotonic() + wait_seconds
    total: int | None = None
    with _progress() as bar:
        task = bar.add_task("waiting for the queue", total=None, rate="", visible=show)
        while True:
            async with cli_transaction(s, migrate_first=False) as conn:
                row = await (await conn.execute(COUNT_OUTSTANDING, (
                    datetime.fromtimestamp(started_at, UTC),))).fetchone()
            assert row is not None
            outstanding, failed = int(row["outstanding"]), int(row["failed"])
            total = max(total or 0, outstanding)
            bar.update(task, total=total, completed=total - outstanding,
                       rate=f"{failed} failed" if failed else "")
            if outstanding == 0:
                break
            if time.monotonic() > deadline:
                raise typer.Exit(_timed_out(outstanding, wait_seconds))
            await asyncio.sleep(0.5)
    typer.echo("queue drained" + (f"; {failed} job(s) failed (see `vitaltrust jobs`)"
                                  if failed else ""))


def _timed_out(outstanding: int, timeout: float) -> int:
    typer.echo(f"error: {outstanding} job(s) still outstanding after {timeout:g} s; "
               "they stay queued for the workers", err=True)
    return 1


@confidence_app.command("recalculate-all")
@friendly_errors
def recalculate_all(
    now: Annotated[bool, typer.Option("--now", help="Recalculate in this process, no queue.")]
        = False,
    wait: Annotated[bool, typer.Option(help="Wait for the queue to drain.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the queue.")] = 3600,
    batch_size: Annotated[int, typer.Option(help="--now: pairs per transaction.", min=1)] = 500,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Recalculate every (user, metric) confidence score."""
    s = settings()
    if now:
        pairs, seconds = run(recalculate_in_process(s, batch_size, progress))
        typer.echo(f"recalculated {pairs} pair(s) in {seconds:.1f} s"
                   f" ({pairs / max(seconds, 1e-9):,.0f} pairs/s)")
    else:
        run(recalculate_via_queue(s, wait, timeout, progress))


def register(app: typer.Typer) -> None:
    app.add_typer(confidence_app, name="confidence")
