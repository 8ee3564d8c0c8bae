"""`vitaltrust sources ...`: create, rotate-secret, list, disable, enable, reprocess
(`sources link` lives in vitaltrust/cli.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from vitaltrust.auth.users import UserError
from vitaltrust.config import public_base_url
from vitaltrust.ingest.source_admin import (
    DEFAULT_OVERLAP,
    SourceRow,
    list_sources,
    parse_overlap,
    rotate_secret,
    set_enabled,
    source_json,
    webhook_url,
)
from vitaltrust.ingest.sources import KINDS, create_source

STATUSES = ("unmatched", "failed")
PROVIDER_KEY_HELP = (
    "The provider's own signing secret: whsec_<base64> for standard/junction "
    "(Svix, Standard Webhooks), the dashboard's signing secret for terra. "
    "Generated (and printed once) when omitted; garmin tokens are always generated.")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def list_table(rows: list[SourceRow], base_url: str) -> list[str]:
    header = ("NAME", "KIND", "ENABLED", "CREATED", "LAST DELIVERY", "24H RECV/DUP/REJ", "URL")
    lines = [(r.name, r.kind, "yes" if r.enabled else "no", _when(r.created_at),
              _when(r.last_delivery_at),
              f"{r.received_24h}/{r.duplicates_24h}/{r.rejected_24h + r.rate_limited_24h}",
              webhook_url(base_url, r.name, r.kind)) for r in rows]
    widths = [max(len(row[i]) for row in (header, *lines)) for i in range(len(header) - 1)]
    return ["  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
            for row in (header, *lines)]


def register(app: typer.Typer) -> None:
    from vitaltrust.cli import cli_transaction, friendly_errors, run, settings, sources_app
    from vitaltrust.ingest.sources import reprocess_events

    @sources_app.command("create")
    @friendly_errors
    def sources_create(
        name: Annotated[str, typer.Argument(help="Source name, used in /webhooks/{name}.")],
        kind: Annotated[str, typer.Option(help=f"One of: {', '.join(KINDS)}.")],
        secret: Annotated[str | None, typer.Option(help=PROVIDER_KEY_HELP)] = None,
        garmin_client_id: Annotated[str | None, typer.Option(
            help="garmin: your consumer key, checked against the garmin-client-id header.")
        ] = None,
        rate: Annotated[float, typer.Option(help="Deliveries per second (token refill).")] = 200,
        burst: Annotated[int, typer.Option(help="Burst size.")] = 400,
        account_rate: Annotated[float, typer.Option(help="Per-account deliveries/s.")] = 20,
        account_burst: Annotated[int, typer.Option(help="Per-account burst.")] = 60,
    ) -> None:
        """Create a webhook source; print the URL to register (and a generated secret, once)."""
        s = settings()

        async def go() -> None:
            async with cli_transaction(s) as conn:
                source, shown = await create_source(
                    conn, name, kind, secret=secret, garmin_client_id=garmin_client_id,
                    rate_per_second=rate, rate_burst=burst, account_rate_per_second=account_rate,
                    account_rate_burst=account_burst)
            typer.echo(f"created {source.kind} source {source.name!r}")
            _echo_secret(source.kind, source.name, shown if secret is None else None,
                         public_base_url(s))
            if source.kind == "garmin" and garmin_client_id is None:
                typer.echo("note: no --garmin-client-id; the garmin-client-id header is not "
                           "checked")

        run(go())

    @sources_app.command("rotate-secret")
    @friendly_errors
    def sources_rotate(
        name: Annotated[str, typer.Argument(help="Source name.")],
        secret: Annotated[str | None, typer.Option(help=PROVIDER_KEY_HELP)] = None,
        overlap: Annotated[str, typer.Option(
            help="How long the old secret keeps working: 24h, 30m, 90s, 2d or 0.")
        ] = DEFAULT_OVERLAP,
    ) -> None:
        """Replace a source's secret; the old one is accepted during the overlap."""
        seconds = parse_overlap(overlap)
        s = settings()

        async def go() -> None:
            async with cli_transaction(s) as conn:
                source, generated, until = await rotate_secret(conn, name, secret=secret,
                                                               overlap_seconds=seconds)
            typer.echo(f"rotated the secret of {source.kind} source {source.name!r}")
            _echo_secret(source.kind, source.name, generated, public_base_url(s))
            typer.echo("the old secret stops working now" if until is None else
                       f"the old secret keeps working until {until.isoformat()}")

        run(go())

    @sources_app.command("list")
    @friendly_errors
    def sources_list(as_json: Annotated[bool, typer.Option(
            "--json", help="One JSON array (no secrets, ever).")] = False) -> None:
        """Sources with the URL to register, last delivery and the last 24 h's counts."""
        s = settings()

        async def go() -> list[SourceRow]:
            async with cli_transaction(s) as conn:
                return await list_sources(conn)

        rows: list[SourceRow] = run(go())
        base = public_base_url(s)
        if as_json:
            typer.echo(json.dumps([source_json(r, base) for r in rows], indent=2))
            return
        for line in list_table(rows, base):
            typer.echo(line)

    def _toggle(name: str, enabled: bool) -> None:
        s = settings()

        async def go() -> None:
            async with cli_transaction(s) as conn:
                await set_enabled(conn, name, enabled)

        run(go())
        typer.echo(f"{name} is {'enabled' if enabled else 'disabled'}"
                   + ("" if enabled else " (its webhooks now get 404; stored data is kept)"))

    @sources_app.command("disable")
    @friendly_errors
    def sources_disable(name: Annotated[str, typer.Argument(help="Source name.")]) -> None:
        """Refuse a source's deliveries (404) without deleting anything."""
        _toggle(name, False)

    @sources_app.command("enable")
    @friendly_errors
    def sources_enable(name: Annotated[str, typer.Argument(help="Source name.")]) -> None:
        """Accept a disabled source's deliveries again."""
        _toggle(name, True)

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


def _echo_secret(kind: str, name: str, generated: str | None, base_url: str) -> None:
    """The URL to register, and a generated secret once; a supplied secret is never echoed."""
    if kind == "garmin":
        assert generated is not None
        typer.echo("register this URL with Garmin (shown once; the token in it is the "
                   f"authentication):\n{webhook_url(base_url, name, kind, generated)}")
        return
    typer.echo(f"webhook URL: {webhook_url(base_url, name, kind)}")
    if generated is not None:
        typer.echo(f"signing secret (shown once): {generated}")
    else:
        typer.echo("signing secret: the one you supplied (stored, never shown)")
