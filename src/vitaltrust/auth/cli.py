"""`vitaltrust users token|tokens|revoke-token|list`: API tokens and accounts from the shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from vitaltrust.auth.audit import record_audit
from vitaltrust.auth.tokens import issue_api_token, list_api_tokens, revoke_api_token
from vitaltrust.auth.users import ROLES, UserError, get_user_by_email
from vitaltrust.db import Conn

LIST_USERS = """
SELECT u.user_id, u.email, u.role, u.display_name, u.time_zone, u.is_demo, u.is_sandbox,
       u.disabled_at IS NOT NULL AS disabled,
       (SELECT count(*) FROM trainer_clients tc WHERE tc.trainer_id = u.user_id) AS clients,
       (SELECT string_agg(t.email, ',' ORDER BY t.email) FROM trainer_clients tc
          JOIN users t ON t.user_id = tc.trainer_id WHERE tc.client_id = u.user_id) AS trainers
FROM users u
WHERE (%(role)s::text IS NULL OR u.role = %(role)s)
ORDER BY u.role, lower(u.email)
"""


async def _user_id(conn: Conn, email: str) -> int:
    user = await get_user_by_email(conn, email)
    if user is None:
        raise UserError(f"no user with e-mail {email}")
    return user.user_id


def register(app: typer.Typer) -> None:
    # The shared command helpers live in vitaltrust.cli, which is loaded by now.
    from vitaltrust.cli import cli_transaction, friendly_errors, run, settings, users_app

    @users_app.command("token")
    @friendly_errors
    def users_token(
        email: Annotated[str, typer.Option(help="Whose token (e-mail).")],
        name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
        expires_days: Annotated[int | None, typer.Option(
            "--expires-days", min=1, help="Expire after this many days (default: never).")] = None,
    ) -> None:
        """Issue a bearer API token and print it (shown once; only its hash is stored)."""
        s = settings()
        expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None

        async def go() -> str:
            async with cli_transaction(s) as conn:
                user_id = await _user_id(conn, email)
                token_id, token = await issue_api_token(conn, user_id, name, expires_at)
                await record_audit(conn, None, "auth.token.create", f"token:{token_id}",
                                   {"via": "cli", "user": email, "name": name,
                                    "expires_at": expires_at}, "ok")
            typer.echo(f"token {token_id} for {email} (shown once; store it now):", err=True)
            return token

        typer.echo(run(go()))

    @users_app.command("tokens")
    @friendly_errors
    def users_tokens(email: Annotated[str, typer.Option(help="Whose tokens (e-mail).")]) -> None:
        """List a user's API tokens as JSON lines (never the secrets)."""
        s = settings()

        async def go() -> list[dict[str, Any]]:
            async with cli_transaction(s) as conn:
                tokens = await list_api_tokens(conn, await _user_id(conn, email))
            return [t.__dict__ for t in tokens]

        for row in run(go()):
            typer.echo(json.dumps(row, default=str))

    @users_app.command("revoke-token")
    @friendly_errors
    def users_revoke_token(
        email: Annotated[str, typer.Option(help="Whose token (e-mail).")],
        token_id: Annotated[int, typer.Option("--id", help="The token id.")],
    ) -> None:
        """Revoke one of a user's API tokens."""
        s = settings()

        async def go() -> None:
            async with cli_transaction(s) as conn:
                if not await revoke_api_token(conn, await _user_id(conn, email), token_id):
                    raise UserError(f"{email} has no active token {token_id}")
                await record_audit(conn, None, "auth.token.revoke", f"token:{token_id}",
                                   {"via": "cli", "user": email}, "ok")

        run(go())
        typer.echo(f"revoked token {token_id} of {email}")

    @users_app.command("list")
    @friendly_errors
    def users_list(
        role: Annotated[str | None, typer.Option(help="Only this role.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
    ) -> None:
        """List users with their role and trainer assignments."""
        if role is not None and role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        s = settings()

        async def go() -> list[dict[str, Any]]:
            async with cli_transaction(s) as conn:
                rows = await (await conn.execute(LIST_USERS, {"role": role})).fetchall()
            return [dict(r) for r in rows]

        for r in run(go()):
            if as_json:
                typer.echo(json.dumps(r, default=str))
                continue
            extra = (f"clients={r['clients']}" if r["role"] == "trainer"
                     else f"trainers={r['trainers'] or '-'}" if r["role"] == "client" else "")
            flags = " ".join(f for f, on in (("disabled", r["disabled"]), ("demo", r["is_demo"]),
                                             ("sandbox", r["is_sandbox"])) if on)
            typer.echo(f"{r['user_id']:>6}  {r['role']:<7}  {r['email']:<36} "
                       f"{r['display_name'] or '':<20} {extra} {flags}".rstrip())
