"""The `vitaltrust` command line."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, ParamSpec, TypeVar

import psycopg
import typer

from vitaltrust import __version__
from vitaltrust.auth.secrets import generate_password
from vitaltrust.auth.users import UserError, admin_exists, assign_client, create_user
from vitaltrust.config import Settings, get_settings
from vitaltrust.db import Conn, connect, resolve_database_url
from vitaltrust.ingest.sources import link_account
from vitaltrust.logging_setup import setup_logging
from vitaltrust.migrations import migrate as run_migrations

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(help="vitaltrust: trust scores for wearable and health data.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database helpers.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
sources_app = typer.Typer(help="Webhook sources (provider integrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(sources_app, name="sources")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Bad input ends in one line on stderr and a non-zero exit, never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            fail(str(exc))
        except psycopg.OperationalError as exc:
            fail(f"cannot reach the database: {str(exc).strip().splitlines()[0]}")
        except psycopg.Error as exc:
            fail(f"database refused: {str(exc).strip().splitlines()[0]}")
        raise AssertionError("unreachable")

    return wrapper


def settings(*, long_running: bool = False) -> Settings:
    """Short commands log warnings only, so their output is just their answer."""
    s = get_settings()
    setup_logging(s.log_format, s.log_level if long_running else "WARNING")
    return s


@asynccontextmanager
async def cli_transaction(s: Settings, *, migrate_first: bool = True) -> AsyncIterator[Conn]:
    """A CLI command is an edge: one connection, migrations applied, one transaction."""
    conn = await connect(resolve_database_url(s))
    try:
        if migrate_first:
            await run_migrations(conn)
        async with conn.transaction():
            yield conn
    finally:
        await conn.close()


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# --- processes ------------------------------------------------------------------------

async def _bootstrap_admin(s: Settings, url: str) -> None:
    conn = await connect(url)
    try:
        await run_migrations(conn)
        async with conn.transaction():
            if await admin_exists(conn):
                return
            password = generate_password()
            user = await create_user(conn, email="admin@vitaltrust.local", role="admin",
                                     password=password, display_name="Administrator")
        typer.echo(f"Created the first admin: {user.email}  password: {password}")
        typer.echo("(shown once; change it or create your own admin with `vitaltrust users create`)")
    finally:
        await conn.close()


def _serve(s: Settings, host: str, port: int, *, with_worker: bool) -> None:
    import uvicorn

    from vitaltrust.app import create_app

    url = resolve_database_url(s)
    run(_bootstrap_admin(s, url))
    application = create_app(s, database_url=url, run_worker=with_worker,
                             worker_process=with_worker and s.serve_worker == "process")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"vitaltrust {__version__} listening on http://{shown}:{port}  "
               f"(dashboard: http://{shown}:{port}/admin, Ctrl-C to stop)")
    config = uvicorn.Config(application, host=host, port=port, log_config=None,
                            access_log=False, lifespan="on")
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    # kills the process before atexit runs, leaving the embedded PostgreSQL running.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.Server(config).run()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)


@app.command()
@friendly_errors
def serve(host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
          port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
          demo: Annotated[bool, typer.Option(
              "--demo", help="Seed a demo organisation and simulate live traffic.")] = False,
          force: Annotated[bool, typer.Option(
              "--force", help="--demo even if the database holds non-demo users.")] = False,
          demo_rate: Annotated[float | None, typer.Option(
              help="--demo: live deliveries per second (VITALTRUST_DEMO_RATE).", min=0.01)] = None,
          ) -> None:
    """Run the API and a worker with its scheduler (a child process) until Ctrl-C."""
    s = settings(long_running=True)
    if demo:  # demo mode lives in vitaltrust/demo (docs/demo.md)
        from vitaltrust.demo.serve import serve_demo

        serve_demo(s, host or s.host, port if port is not None else s.port, force=force,
                   rate=demo_rate)
        return
    _serve(s, host or s.host, port if port is not None else s.port, with_worker=True)


@app.command()
@friendly_errors
def api(host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
        port: Annotated[int | None, typer.Option(help="Port to bind.")] = None) -> None:
    """Run the HTTP API only (scale out: many `api` and `worker` processes, one database)."""
    s = settings(long_running=True)
    _serve(s, host or s.host, port if port is not None else s.port, with_worker=False)


@app.command()
@friendly_errors
def worker(concurrency: Annotated[int | None, typer.Option(
        help="Jobs run at once by this process.", min=1)] = None) -> None:
    """Run a job worker (with the scheduler, whose leader is elected by advisory lock)."""
    from vitaltrust.queue.service import run_worker_process

    s = settings(long_running=True)
    if concurrency is not None:
        s = s.model_copy(update={"worker_concurrency": concurrency})
    run(run_worker_process(s))


@app.command()
@friendly_errors
def migrate() -> None:
    """Apply pending database migrations (safe to run concurrently and repeatedly)."""
    s = settings()

    async def go() -> list[str]:
        conn = await connect(resolve_database_url(s))
        try:
            return await run_migrations(conn)
        finally:
            await conn.close()

    ran = run(go())
    typer.echo(f"applied {len(ran)} migration(s)" + (": " + ", ".join(ran) if ran else
                                                     "; the schema is current"))


@db_app.command("stop")
def db_stop(force: Annotated[bool, typer.Option(
        "--force", help="Stop it even while vitaltrust processes still use it.")] = False) -> None:
    """Stop the embedded PostgreSQL of the data dir (a leftover one, e.g. after a crash)."""
    from vitaltrust.embedded_pg import stop_embedded

    s = settings()
    if s.database_url:
        fail("DATABASE_URL is set: that server is not managed by vitaltrust; stop it there")
    try:
        typer.echo(stop_embedded(s.data_dir, force=force))
    except (ValueError, RuntimeError) as exc:
        fail(str(exc))


@db_app.command("url")
@friendly_errors
def db_url() -> None:
    """Print a libpq URL for psql (starts the embedded database if that is in use)."""
    s = get_settings()
    logging.disable(logging.CRITICAL)
    typer.echo(resolve_database_url(s, keep_running=True))


# --- accounts and sources ---------------------------------------------------------------

@users_app.command("create")
@friendly_errors
def users_create(
    email: Annotated[str, typer.Option(help="E-mail address (the login).")],
    role: Annotated[str, typer.Option(help="admin, trainer or client.")],
    password: Annotated[str | None, typer.Option(help="Password; generated if omitted.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    time_zone: Annotated[str, typer.Option("--time-zone", help="IANA time zone.")] = "UTC",
) -> None:
    """Create a user."""
    s = settings()
    chosen = password or generate_password()

    async def go() -> None:
        async with cli_transaction(s) as conn:
            user = await create_user(conn, email=email, role=role, password=chosen,
                                     display_name=name, time_zone=time_zone)
        typer.echo(f"created {user.role} {user.email} (id {user.user_id})")
        if password is None:
            typer.echo(f"password: {chosen}")

    run(go())


@users_app.command("assign")
@friendly_errors
def users_assign(trainer: Annotated[str, typer.Option(help="The trainer's e-mail.")],
                 client: Annotated[str, typer.Option(help="The client's e-mail.")]) -> None:
    """Assign a client to a trainer."""
    s = settings()

    async def go() -> None:
        async with cli_transaction(s) as conn:
            await assign_client(conn, trainer_email=trainer, client_email=client)
        typer.echo(f"{client} is now a client of {trainer}")

    run(go())


@sources_app.command("link")
@friendly_errors
def sources_link(
    name: Annotated[str, typer.Argument(help="Source name.")],
    external_id: Annotated[str, typer.Option("--external-id", help="The provider's user id.")],
    user: Annotated[str, typer.Option(help="Our user's e-mail.")],
) -> None:
    """Map a provider's user id to a user."""
    s = settings()

    async def go() -> None:
        async with cli_transaction(s) as conn:
            await link_account(conn, source_name=name, external_user_id=external_id, email=user)
        typer.echo(f"{name}:{external_id} -> {user}")

    run(go())


def _register_domain_commands() -> None:
    """Each domain contributes its own commands (jobs, confidence, bench, ...)."""
    from vitaltrust.plugins import register_cli

    register_cli(app)


def main() -> None:
    _register_domain_commands()
    # Every command may hold the embedded PostgreSQL; it is released by atexit hooks, which
    # Python's default SIGTERM death skips. Exit normally instead (SIGINT: KeyboardInterrupt).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
