"""Database access: the embedded server, the async pool, and the edge transaction helper.

Only the edge (a request, the job runner, a CLI command) opens a transaction; everything
below it takes the connection as an argument.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, class_row, dict_row
from psycopg_pool import AsyncConnectionPool

from vitaltrust.config import Settings
from vitaltrust.embedded_pg import embedded_url

__all__ = ["Conn", "connect", "create_pool", "embedded_url", "resolve_database_url", "transaction"]

log = logging.getLogger(__name__)

Conn = AsyncConnection[DictRow]
T = TypeVar("T")
Query = str | bytes | pgsql.SQL | pgsql.Composed


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database url>"
    if "password" in info:
        info["password"] = "***"  # noqa: S105 - a mask, not a secret
    return make_conninfo("", **info)


def resolve_database_url(settings: Settings, *, keep_running: bool = False) -> str:
    if settings.database_url:
        log.info("database: %s (DATABASE_URL)", redact(settings.database_url))
        return settings.database_url
    url = embedded_url(settings.data_dir, keep_running=keep_running)
    log.info("database: embedded PostgreSQL in %s (%s)", settings.data_dir / "pg", redact(url))
    return url


async def connect(url: str, *, autocommit: bool = True) -> Conn:
    """A single connection outside the pool (CLI commands, LISTEN, migrations)."""
    return await AsyncConnection.connect(url, autocommit=autocommit, row_factory=dict_row)


# A connection handed out this recently (so in use, and handed back, more recently still)
# is handed out again unchecked: under load every checkout would otherwise cost an
# empty-query round trip (measured: one of the six round trips of a cached lookup). A
# restart of the server takes far longer, so a connection it cut is still checked (and
# replaced) before its next use. (Not the pool's `reset` hook: with one, the pool hands
# every returned connection to a background task, which made the queue ~7 % slower.)
RECENT_USE_SECONDS = 0.1
_handed_out_at: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()


async def _check_unless_just_used(conn: Conn) -> None:
    now = time.monotonic()
    last = _handed_out_at.get(conn)
    _handed_out_at[conn] = now
    if last is not None and now - last < RECENT_USE_SECONDS and not conn.closed:
        return
    await AsyncConnectionPool.check_connection(conn)


def create_pool(url: str, settings: Settings, *, name: str = "vitaltrust",
                timeout: float | None = None, reconnect_timeout: float = 300.0
                ) -> AsyncConnectionPool[Conn]:
    """A pool of autocommit connections; transactions are explicit (see `transaction`).

    `timeout`: the longest wait for a connection (default: the workers' wait). A checkout
    is checked first (an empty query), so a connection cut by a database restart is
    replaced instead of failing the request; a connection handed out within the last
    RECENT_USE_SECONDS is not. `reconnect_timeout`: how long the pool
    retries a lost connection (with growing pauses: 1, 2, 4, ... s) before it gives up and
    connects again on the next demand; short, the pool notices a returned database soon.
    """
    return AsyncConnectionPool(
        url,
        min_size=settings.pool_min_size,
        max_size=max(settings.pool_max_size, settings.pool_min_size),
        kwargs={"autocommit": True, "row_factory": dict_row},
        connection_class=AsyncConnection[DictRow],
        check=_check_unless_just_used,
        timeout=timeout if timeout is not None else settings.worker_db_wait_seconds,
        reconnect_timeout=reconnect_timeout,
        name=name,
        open=False,
    )


@asynccontextmanager
async def transaction(pool: AsyncConnectionPool[Conn]) -> AsyncIterator[Conn]:
    """The edge's unit of work: one pooled connection, one transaction, committed on exit."""
    async with pool.connection() as conn, conn.transaction():
        yield conn


Params = Sequence[Any] | dict[str, Any] | None


async def fetch_all(conn: Conn, query: Query, params: Params, row_type: type[T]) -> list[T]:
    """Rows as instances of `row_type` (a dataclass or pydantic model with matching fields)."""
    async with conn.cursor(row_factory=class_row(row_type)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def fetch_one(conn: Conn, query: Query, params: Params, row_type: type[T]) -> T | None:
    async with conn.cursor(row_factory=class_row(row_type)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


def contains_pattern(text: str) -> str:
    """A LIKE/ILIKE pattern matching `text` anywhere; its own %, _ and \\ are taken literally
    (the default escape character is the backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
