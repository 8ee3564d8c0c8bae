"""Migrations, constraints, settings, health endpoints."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from tests.conftest import make_user
from tests.support.cli import cli_env, run_cli, vitaltrust_cmd
from vitaltrust.config import Settings
from vitaltrust.db import Conn, connect, redact
from vitaltrust.migrations import available, migrate, pending


async def test_migrate_twice_changes_nothing(empty_db_url: str) -> None:
    c = await connect(empty_db_url)
    try:
        first = await migrate(c)
        assert first == [m.version for m in available()]
        schema = await (await c.execute(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'public'"
        )).fetchone()
        assert await migrate(c) == []
        again = await (await c.execute(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'public'"
        )).fetchone()
        assert schema == again
        assert await pending(c) == []
    finally:
        await c.close()


def test_two_processes_migrate_at_once(empty_db_url: str) -> None:
    procs = [subprocess.Popen([*vitaltrust_cmd(), "migrate"], env=cli_env(empty_db_url),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    applied = [o[0] for o in outs]
    # exactly one of them did the work; the other found the schema current
    assert sum("schema is current" in a for a in applied) == 1, applied
    with psycopg.connect(empty_db_url) as c:
        n = c.execute("SELECT count(*) FROM schema_migrations").fetchone()
        assert n is not None and n[0] == len(available())


async def test_named_indexes_exist(conn: Conn) -> None:
    rows = await (await conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")).fetchall()
    names = {r["indexname"] for r in rows}
    for required in ("idx_background_jobs_status_created", "idx_background_jobs_type_status",
                     "idx_metric_confidence_cache_user_metric",
                     "idx_metric_confidence_cache_updated"):
        assert required in names


@pytest.mark.parametrize("sql, params", [
    ("INSERT INTO users (email, role) VALUES (%s, %s)", ("a@b.c", "superuser")),
    ("INSERT INTO users (email, role) VALUES (%s, %s)", ("not-an-email", "client")),
    ("INSERT INTO background_jobs (type, status) VALUES (%s, %s)", ("x", "exploded")),
    ("INSERT INTO background_jobs (type, max_attempts) VALUES (%s, %s)", ("x", 0)),
    ("INSERT INTO background_jobs (type, status) VALUES (%s, %s)", ("x", "processing")),
    ("INSERT INTO webhook_sources (name, kind) VALUES (%s, %s)", ("Bad Name", "standard")),
    ("INSERT INTO webhook_sources (name, kind) VALUES (%s, %s)", ("nosecret", "terra")),
])
async def test_constraints_reject_bad_rows(conn: Conn, sql: str, params: tuple[object, ...]) -> None:
    with pytest.raises(psycopg.errors.IntegrityError):
        await conn.execute(sql, params)


async def test_sample_constraints(conn: Conn) -> None:
    user = await make_user(conn, "client")
    base = ("INSERT INTO metric_samples (user_id, metric, source_id, measured_at, local_date, value,"
            " device_type) VALUES (%s, %s, 1, now(), current_date, %s, %s)")
    with pytest.raises(psycopg.errors.IntegrityError):
        await conn.execute(base, (user.user_id, "weight", float("nan"), "scale"))
    with pytest.raises(psycopg.errors.IntegrityError):
        await conn.execute(base, (user.user_id, "not_a_metric", 1.0, "scale"))
    with pytest.raises(psycopg.errors.IntegrityError):
        await conn.execute(base, (user.user_id, "weight", 80.0, "toaster"))
    await conn.execute(base, (user.user_id, "weight", 80.0, "scale"))
    with pytest.raises(psycopg.errors.UniqueViolation):
        await conn.execute(base.replace("now()", "(SELECT measured_at FROM metric_samples LIMIT 1)"),
                           (user.user_id, "weight", 81.0, "scale"))


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@h/db")
    monkeypatch.setenv("VITALTRUST_PORT", "9123")
    monkeypatch.setenv("VITALTRUST_LOG_FORMAT", "json")
    s = Settings()
    assert (s.database_url, s.port, s.log_format) == ("postgresql://u:pw@h/db", 9123, "json")
    monkeypatch.setenv("VITALTRUST_LOG_FORMAT", "xml")
    with pytest.raises(ValueError):
        Settings()


def test_redact_hides_password() -> None:
    out = redact("postgresql://alice:s3cret@db.example/prod")
    assert "s3cret" not in out and "alice" in out


async def test_health_and_ready(app_client) -> None:  # type: ignore[no-untyped-def]
    r = await app_client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await app_client.get("/readyz")
    # a fresh install: no worker, no leader: ready to accept deliveries, pipeline degraded
    assert r.status_code == 200 and r.json() == {
        "status": "ready", "pipeline": "degraded", "data_quality": "healthy",
        "problems": ["live_workers", "leader"]}


async def test_unknown_route_is_a_problem(app_client) -> None:  # type: ignore[no-untyped-def]
    r = await app_client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


def test_readyz_reports_pending_migrations(empty_db_url: str, db_url: str) -> None:
    # the CLI answers from the same code path: migrate prints what it applied
    out = run_cli(empty_db_url, "migrate")
    assert out.returncode == 0 and "applied" in out.stdout
