"""Forward-only numbered SQL migrations, applied in order under an advisory lock.

Each `NNNN_name.sql` file runs in its own transaction and is recorded in
`schema_migrations` with a checksum. Two processes migrating at once serialise on the
lock; the second finds nothing left to do.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

from vitaltrust.db import Conn

log = logging.getLogger(__name__)

# Arbitrary constant shared by every vitaltrust process: "the migration lock".
MIGRATION_LOCK_KEY = 7_240_001

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
SELECT_APPLIED = "SELECT version, checksum FROM schema_migrations"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
LEDGER_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present"


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql).hexdigest()


def available() -> list[Migration]:
    found = []
    for entry in resources.files(__package__).iterdir():
        if entry.name.endswith(".sql") and entry.name[:4].isdigit():
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_bytes()))
    return sorted(found, key=lambda m: m.version)


async def applied_versions(conn: Conn) -> dict[str, str]:
    row = await (await conn.execute(LEDGER_EXISTS)).fetchone()
    if not row or not row["present"]:
        return {}
    rows = await (await conn.execute(SELECT_APPLIED)).fetchall()
    return {r["version"]: r["checksum"] for r in rows}


async def pending(conn: Conn) -> list[Migration]:
    done = await applied_versions(conn)
    return [m for m in available() if m.version not in done]


async def migrate(conn: Conn) -> list[str]:
    """Apply every pending migration; return the versions applied. `conn` must be autocommit."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        await conn.execute(CREATE_LEDGER)
        done = await applied_versions(conn)
        ran: list[str] = []
        for m in available():
            if m.version in done:
                if done[m.version] != m.checksum:
                    log.warning("migration %s_%s changed after it was applied", m.version, m.name)
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(INSERT_APPLIED, (m.version, m.name, m.checksum))
            log.info("applied migration %s_%s", m.version, m.name)
            ran.append(m.version)
        return ran
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
