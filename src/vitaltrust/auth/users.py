"""User accounts and trainer assignments (SQL and the operations on it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vitaltrust.auth.secrets import hash_password
from vitaltrust.db import Conn, fetch_one

Role = Literal["admin", "trainer", "client"]
ROLES: tuple[Role, ...] = ("admin", "trainer", "client")


@dataclass(frozen=True)
class User:
    user_id: int
    email: str
    display_name: str | None
    role: str
    time_zone: str
    is_demo: bool
    is_sandbox: bool
    created_at: datetime


class UserError(ValueError):
    """A user-facing error (one line, no stack trace)."""


INSERT_USER = """
INSERT INTO users (email, display_name, role, password_hash, time_zone, is_demo, is_sandbox)
VALUES (%(email)s, %(display_name)s, %(role)s, %(password_hash)s, %(time_zone)s,
        %(is_demo)s, %(is_sandbox)s)
ON CONFLICT DO NOTHING
RETURNING user_id, email, display_name, role, time_zone, is_demo, is_sandbox, created_at
"""
SELECT_USER_BY_EMAIL = (
    "SELECT user_id, email, display_name, role, time_zone, is_demo, is_sandbox, created_at"
    " FROM users WHERE lower(email) = lower(%s)"
)
SELECT_USER_BY_ID = (
    "SELECT user_id, email, display_name, role, time_zone, is_demo, is_sandbox, created_at"
    " FROM users WHERE user_id = %s"
)
ASSIGN_CLIENT = """
INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)
ON CONFLICT DO NOTHING
"""
ANY_ADMIN = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND disabled_at IS NULL) AS present"


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown time zone {name!r}") from exc
    return name


async def create_user(conn: Conn, *, email: str, role: str, password: str | None,
                      display_name: str | None = None, time_zone: str = "UTC",
                      is_demo: bool = False, is_sandbox: bool = False) -> User:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if "@" not in email or email.strip() != email or len(email) > 254:
        raise UserError(f"not an e-mail address: {email!r}")
    params = {
        "email": email, "display_name": display_name, "role": role,
        "password_hash": hash_password(password) if password else None,
        "time_zone": check_time_zone(time_zone), "is_demo": is_demo, "is_sandbox": is_sandbox,
    }
    user = await fetch_one(conn, INSERT_USER, params, User)
    if user is None:
        raise UserError(f"a user with e-mail {email} already exists")
    return user


async def get_user_by_email(conn: Conn, email: str) -> User | None:
    return await fetch_one(conn, SELECT_USER_BY_EMAIL, (email,), User)


async def get_user(conn: Conn, user_id: int) -> User | None:
    return await fetch_one(conn, SELECT_USER_BY_ID, (user_id,), User)


async def assign_client(conn: Conn, *, trainer_email: str, client_email: str) -> None:
    trainer = await get_user_by_email(conn, trainer_email)
    client = await get_user_by_email(conn, client_email)
    if trainer is None or trainer.role != "trainer":
        raise UserError(f"no trainer with e-mail {trainer_email}")
    if client is None or client.role != "client":
        raise UserError(f"no client with e-mail {client_email}")
    await conn.execute(ASSIGN_CLIENT, (client.user_id, trainer.user_id))


async def admin_exists(conn: Conn) -> bool:
    row = await (await conn.execute(ANY_ADMIN)).fetchone()
    return bool(row and row["present"])
