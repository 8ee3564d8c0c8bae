"""Shared fixtures: a real PostgreSQL, a migrated template, one fresh database per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.pg import create_database, drop_database, server_url, unique_name, with_dbname
from vitaltrust.app import create_app
from vitaltrust.auth.tokens import issue_api_token
from vitaltrust.auth.users import User, create_user
from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect
from vitaltrust.migrations import migrate

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url, server = server_url()
    yield url
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    name = unique_name("vt_tpl")
    create_database(pg_admin_url, name)

    async def go() -> None:
        conn = await connect(with_dbname(pg_admin_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(go())
    # no connection may stay open on a template that is being cloned
    with psycopg.connect(pg_admin_url, autocommit=True) as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                  (name,))
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, fully migrated database for this test alone."""
    name = unique_name("vt_t")
    create_database(pg_admin_url, name, template=template_db)
    yield with_dbname(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (migration tests)."""
    name = unique_name("vt_e")
    create_database(pg_admin_url, name)
    yield with_dbname(pg_admin_url, name)
    drop_database(pg_admin_url, name)


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[Conn]:
    """An autocommit connection to this test's database."""
    c = await connect(db_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data", stats_flush_seconds=0.2,
                    poll_interval_seconds=0.2, scheduler_interval_seconds=1.0)


@pytest.fixture
async def app_client(settings: Settings, db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process (no worker), with its lifespan running."""
    app = create_app(settings, database_url=db_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def make_user(conn: Conn, role: str, email: str | None = None, **kw: object) -> User:
    email = email or f"{role}-{unique_name('u')}@example.test"
    return await create_user(conn, email=email, role=role, password="correct horse battery",
                             **kw)  # type: ignore[arg-type]


async def bearer_for(conn: Conn, user: User) -> dict[str, str]:
    _, token = await issue_api_token(conn, user.user_id, "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
