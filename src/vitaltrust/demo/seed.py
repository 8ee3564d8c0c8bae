"""The demo organisation: safety check, users, trainer assignments, sources, account links.

Only accounts and configuration are written here (through the auth and ingest functions);
every sample reaches the database through POST /webhooks/{source}.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field

from vitaltrust.auth.secrets import generate_password, hash_password
from vitaltrust.auth.users import UserError, assign_client, create_user
from vitaltrust.db import Conn
from vitaltrust.demo.payloads import SOURCES, source_for
from vitaltrust.demo.profiles import ADMIN_EMAIL, TRAINERS, Client, clients, trainer_email
from vitaltrust.ingest.sources import create_source, get_source, link_account, new_secret

BOOTSTRAP_ADMIN = "admin@vitaltrust.local"  # created by a plain `serve` on an empty database
COUNT_OTHER_USERS = """
SELECT count(*) AS n FROM users
WHERE NOT is_demo AND NOT is_sandbox AND NOT (role = 'admin' AND email = %s)
"""
COUNT_DEMO_USERS = "SELECT count(*) AS n FROM users WHERE is_demo"
DEMO_USERS = "SELECT email, user_id FROM users WHERE is_demo"
SET_PASSWORDS = """
UPDATE users SET password_hash = %s
WHERE is_demo AND role = %s AND (%s::text IS NULL OR lower(email) = lower(%s))
"""
# Garmin keeps only a digest of its shared secret: a restart issues a new one.
ROTATE_SHARED_SECRET = "UPDATE webhook_sources SET shared_secret_hash = %s WHERE name = %s"  # noqa: S105
SET_RATES = """
UPDATE webhook_sources
SET rate_per_second = %(rate)s, rate_burst = %(burst)s,
    account_rate_per_second = %(account_rate)s, account_rate_burst = %(account_burst)s
WHERE name = ANY(%(names)s)
"""
INSTALL_FAULT_TRIGGER = """
CREATE OR REPLACE TRIGGER demo_storage_faults BEFORE INSERT OR UPDATE ON metric_samples
FOR EACH ROW EXECUTE FUNCTION demo_storage_fault_check()
"""
# Generous for the history load; the live simulator lowers the per-account budget so its
# "sync storm" burst meets real 429s.
HISTORY_RATES: dict[str, float] = {"rate": 2000.0, "burst": 4000, "account_rate": 200.0, "account_burst": 400}
LIVE_RATES: dict[str, float] = {"rate": 200.0, "burst": 400, "account_rate": 1.0, "account_burst": 6}


@dataclass
class Credentials:
    admin: tuple[str, str]
    trainers: list[tuple[str, str]]
    client_password: str

    def lines(self) -> list[str]:
        out = ["Demo accounts (passwords shown once; a restart issues new ones):",
               f"  admin     {self.admin[0]}  password: {self.admin[1]}"]
        out += [f"  trainer   {e}  password: {p}" for e, p in self.trainers]
        out.append(f"  clients   client01@… to client60@{ADMIN_EMAIL.split('@')[1]}  "
                   f"password (all): {self.client_password}")
        return out


@dataclass
class DemoWorld:
    credentials: Credentials
    secrets: dict[str, str]           # source name -> signing / shared secret
    user_ids: dict[str, int] = field(default_factory=dict)  # e-mail -> user id
    fresh: bool = True                # seeded now (False: an existing demo was reused)
    people: list[Client] = field(default_factory=clients)


async def refuse_foreign_data(conn: Conn, *, force: bool) -> None:
    """--demo writes demo users and data: never into a database holding real users."""
    row = await (await conn.execute(COUNT_OTHER_USERS, (BOOTSTRAP_ADMIN,))).fetchone()
    others = int(row["n"]) if row else 0
    if others and not force:
        raise UserError(f"this database holds {others} non-demo user(s); `serve --demo` would "
                        "mix demo data into it. Use an empty VITALTRUST_DATA_DIR or DATABASE_URL, "
                        "or pass --force")


async def _hashes(passwords: list[str]) -> list[str]:
    """argon2 is slow on purpose: hash the few distinct passwords in parallel threads."""
    return list(await asyncio.gather(*(asyncio.to_thread(hash_password, p) for p in passwords)))


async def _credentials(conn: Conn) -> Credentials:
    admin_pw, client_pw = generate_password(), generate_password()
    trainer_pws = [generate_password() for _ in range(TRAINERS)]
    hashes = await _hashes([admin_pw, client_pw, *trainer_pws])
    await conn.execute(SET_PASSWORDS, (hashes[0], "admin", None, None))
    await conn.execute(SET_PASSWORDS, (hashes[1], "client", None, None))
    for n, h in enumerate(hashes[2:], start=1):
        await conn.execute(SET_PASSWORDS, (h, "trainer", trainer_email(n), trainer_email(n)))
    return Credentials((ADMIN_EMAIL, admin_pw),
                       [(trainer_email(n), p) for n, p in enumerate(trainer_pws, start=1)],
                       client_pw)


async def _recover_secrets(conn: Conn) -> dict[str, str]:
    out = {}
    for name, kind in SOURCES.items():
        source = await get_source(conn, name)
        if source is None:
            raise UserError(f"the demo source {name!r} is missing; start from an empty database")
        if kind == "standard" and source.signing_key is not None:
            out[name] = "whsec_" + base64.b64encode(source.signing_key).decode()
        elif kind == "terra" and source.signing_key is not None:
            out[name] = source.signing_key.decode()
        else:
            secret, _, digest = new_secret("garmin")
            await conn.execute(ROTATE_SHARED_SECRET, (digest, name))
            out[name] = secret
    return out


async def _create_people(conn: Conn, people: list[Client]) -> dict[str, int]:
    ids = {}
    admin = await create_user(conn, email=ADMIN_EMAIL, role="admin", password=None,
                              display_name="Demo Admin", is_demo=True)
    ids[admin.email] = admin.user_id
    for n in range(1, TRAINERS + 1):
        t = await create_user(conn, email=trainer_email(n), role="trainer", password=None,
                              display_name=f"Coach {('Kim', 'Lee', 'Noor')[n - 1]}", is_demo=True)
        ids[t.email] = t.user_id
    for c in people:
        u = await create_user(conn, email=c.email, role="client", password=None,
                              display_name=c.name, is_demo=True)
        ids[u.email] = u.user_id
        await assign_client(conn, trainer_email=trainer_email(c.trainer), client_email=c.email)
    return ids


async def seed(conn: Conn, *, force: bool) -> DemoWorld:
    """Create (or, when present, reuse) the demo organisation. Runs in the caller's transaction."""
    await refuse_foreign_data(conn, force=force)
    people = clients()
    row = await (await conn.execute(COUNT_DEMO_USERS)).fetchone()
    fresh = not (row and int(row["n"]))
    if fresh:
        ids = await _create_people(conn, people)
        secrets = {}
        for name, kind in SOURCES.items():
            _, secrets[name] = await create_source(
                conn, name, kind, rate_per_second=HISTORY_RATES["rate"],
                rate_burst=int(HISTORY_RATES["burst"]),
                account_rate_per_second=HISTORY_RATES["account_rate"],
                account_rate_burst=int(HISTORY_RATES["account_burst"]))
        for c in people:
            for channel, account in c.accounts.items():
                await link_account(conn, source_name=source_for(c, channel),
                                   external_user_id=account, email=c.email)
    else:
        secrets = await _recover_secrets(conn)
        rows = await (await conn.execute(DEMO_USERS)).fetchall()
        ids = {r["email"]: int(r["user_id"]) for r in rows}
    await conn.execute(INSTALL_FAULT_TRIGGER)
    credentials = await _credentials(conn)
    return DemoWorld(credentials, secrets, ids, fresh, people)


async def set_rates(conn: Conn, rates: dict[str, float]) -> None:
    await conn.execute(SET_RATES, {**rates, "names": list(SOURCES)})
