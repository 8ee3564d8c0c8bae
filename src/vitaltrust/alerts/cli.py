"""`vitaltrust alerts ...`: destinations, subscriptions, delivery logs, replay, state."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def register(app: typer.Typer) -> None:
    from vitaltrust.alerts import store
    from vitaltrust.alerts.secrets import OutboundConfigError, new_key
    from vitaltrust.cli import cli_transaction, fail, friendly_errors, run, settings
    from vitaltrust.db import Conn

    alerts_app = typer.Typer(help="Alerts, their destinations, and outbound event subscriptions.",
                             no_args_is_help=True)
    dest_app = typer.Typer(help="Where alerts go: webhook, slack, email.", no_args_is_help=True)
    subs_app = typer.Typer(help="Signed event webhooks for the coaching app.",
                           no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")
    alerts_app.add_typer(dest_app, name="destinations")
    alerts_app.add_typer(subs_app, name="subscriptions")

    def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (OutboundConfigError, LookupError) as exc:
                fail(str(exc))
            raise AssertionError("unreachable")

        return friendly_errors(wrapper)

    def in_tx(fn: Callable[[Conn], Awaitable[Any]]) -> Any:
        s = settings()

        async def go() -> Any:
            async with cli_transaction(s) as conn:
                return await fn(conn)

        return run(go())

    @alerts_app.command("keygen")
    def keygen() -> None:
        """Print a new VITALTRUST_OUTBOUND_SECRET_KEY (a Fernet key)."""
        typer.echo(new_key())

    @alerts_app.command("status")
    @one_line_errors
    def status() -> None:
        """Each rule's state and the latest transitions."""
        from vitaltrust.alerts import sql

        async def go(conn: Conn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            states = [dict(r) for r in await (await conn.execute(sql.STATES)).fetchall()]
            hist = [dict(r) for r in await (await conn.execute(sql.HISTORY, {"limit": 10})).fetchall()]
            return states, hist

        states, hist = in_tx(go)
        _table(states, ["rule", "status", "severity", "since", "value", "threshold"])
        typer.echo("")
        _table(hist, ["at", "rule", "event", "severity", "message"])

    @dest_app.command("add")
    @one_line_errors
    def dest_add(
        name: Annotated[str, typer.Argument(help="A name, e.g. ops-slack.")],
        kind: Annotated[str, typer.Option(help="webhook, slack or email.")],
        target: Annotated[str, typer.Option(help="URL (webhook, slack) or e-mail address.")],
        timeout: Annotated[float, typer.Option(help="Seconds per attempt.")] = 10.0,
        max_response_bytes: Annotated[int, typer.Option(help="Reply bytes read at most.")] = 65536,
    ) -> None:
        """Add a destination; a webhook's signing secret is printed once."""
        s = settings()
        created = in_tx(lambda c: store.add_destination(
            c, s, name=name, kind=kind, target=target, timeout_seconds=timeout,
            max_bytes=max_response_bytes))
        typer.echo(f"added {kind} destination {name} (id {created.id})")
        if created.secret:
            typer.echo(f"signing secret (shown once): {created.secret}")

    @dest_app.command("list")
    @one_line_errors
    def dest_list() -> None:
        """Destinations (targets redacted) with pending deliveries."""
        _table(in_tx(store.list_destinations),
               ["name", "kind", "target_hint", "timeout_seconds", "pending", "last_delivered_at"])

    @dest_app.command("remove")
    @one_line_errors
    def dest_remove(name: Annotated[str, typer.Argument()]) -> None:
        """Remove a destination (and its delivery log)."""
        in_tx(lambda c: store.remove_destination(c, name))
        typer.echo(f"removed destination {name}")

    @dest_app.command("test")
    @one_line_errors
    def dest_test(name: Annotated[str, typer.Argument()]) -> None:
        """Queue a test alert to one destination; see `alerts destinations log`."""
        s = settings()
        event_id = in_tx(lambda c: store.send_test(c, s, name))
        typer.echo(f"queued test event {event_id} to {name}")

    @dest_app.command("log")
    @one_line_errors
    def dest_log(name: Annotated[str, typer.Argument()],
                 limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
        """A destination's latest deliveries."""
        _table(in_tx(lambda c: store.destination_log(c, name, limit)), LOG_COLUMNS)

    @subs_app.command("add")
    @one_line_errors
    def subs_add(
        name: Annotated[str, typer.Argument(help="A name, e.g. coaching-app.")],
        url: Annotated[str, typer.Option(help="The receiver's https:// URL.")],
        event: Annotated[list[str], typer.Option(help="Event type (repeatable).")],
        timeout: Annotated[float, typer.Option(help="Seconds per attempt.")] = 10.0,
        max_response_bytes: Annotated[int, typer.Option(help="Reply bytes read at most.")] = 65536,
    ) -> None:
        """Subscribe a URL to event types; its signing secret is printed once."""
        s = settings()
        created = in_tx(lambda c: store.add_subscription(
            c, s, name=name, url=url, event_types=event, timeout_seconds=timeout,
            max_bytes=max_response_bytes))
        typer.echo(f"added subscription {name} (id {created.id})")
        typer.echo(f"signing secret (shown once): {created.secret}")

    @subs_app.command("list")
    @one_line_errors
    def subs_list() -> None:
        """Subscriptions (URLs redacted) with pending deliveries."""
        _table(in_tx(store.list_subscriptions),
               ["name", "url_hint", "event_types", "timeout_seconds", "pending"])

    @subs_app.command("remove")
    @one_line_errors
    def subs_remove(name: Annotated[str, typer.Argument()]) -> None:
        """Remove a subscription (and its delivery log)."""
        in_tx(lambda c: store.remove_subscription(c, name))
        typer.echo(f"removed subscription {name}")

    @subs_app.command("log")
    @one_line_errors
    def subs_log(name: Annotated[str, typer.Argument()],
                 limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """A subscription's latest deliveries."""
        rows = in_tx(lambda c: store.subscription_log(c, name, limit))
        if as_json:
            typer.echo(json.dumps(rows, default=str, indent=1))
        else:
            _table(rows, LOG_COLUMNS)

    @alerts_app.command("replay")
    @one_line_errors
    def replay(event: Annotated[str, typer.Argument(help="The webhook-id (msg_...) or event id.")],
               subscription: Annotated[str | None, typer.Option(
                   help="Only to this subscription.")] = None) -> None:
        """Deliver one event again, with the same webhook-id."""
        n = in_tx(lambda c: store.replay(c, event, subscription))
        typer.echo(f"queued {n} delivery(ies) of {event}")


LOG_COLUMNS = ["delivery_id", "webhook_id", "event_type", "status", "attempts",
               "last_status_code", "last_duration_ms", "next_attempt_at", "last_error"]
