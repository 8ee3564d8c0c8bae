"""Seeding the demo organisation, and the refusal to touch a database with real users."""

from __future__ import annotations

import pytest

from tests.conftest import make_user
from tests.support.cli import run_cli
from vitaltrust.auth.secrets import verify_password
from vitaltrust.auth.users import UserError, create_user
from vitaltrust.db import Conn
from vitaltrust.demo.seed import BOOTSTRAP_ADMIN, refuse_foreign_data, seed

COUNTS = """
SELECT role, count(*) AS n, bool_and(is_demo) AS demo FROM users GROUP BY role ORDER BY role
"""


async def test_seed_creates_the_organisation_and_its_sources(conn: Conn) -> None:
    async with conn.transaction():
        world = await seed(conn, force=False)
    rows = await (await conn.execute(COUNTS)).fetchall()
    assert [(r["role"], r["n"], r["demo"]) for r in rows] == [
        ("admin", 1, True), ("client", 60, True), ("trainer", 3, True)]
    per_trainer = await (await conn.execute(
        "SELECT trainer_id, count(*) AS n FROM trainer_clients GROUP BY 1")).fetchall()
    assert sorted(r["n"] for r in per_trainer) == [20, 20, 20]
    kinds = await (await conn.execute(
        "SELECT name, kind FROM webhook_sources WHERE name LIKE 'demo-%' ORDER BY name")).fetchall()
    assert [(r["name"], r["kind"]) for r in kinds] == [
        ("demo-app", "standard"), ("demo-garmin", "garmin"), ("demo-scale", "standard"),
        ("demo-terra", "terra")]
    links = await (await conn.execute("SELECT count(*) AS n FROM source_accounts")).fetchone()
    assert links is not None and links["n"] == sum(len(c.accounts) for c in world.people)
    row = await (await conn.execute("SELECT password_hash FROM users WHERE email = %s",
                                    (world.credentials.admin[0],))).fetchone()
    assert row is not None and verify_password(row["password_hash"], world.credentials.admin[1])
    assert world.fresh and set(world.secrets) == {"demo-app", "demo-garmin", "demo-scale",
                                                  "demo-terra"}
    # a second start reuses the demo, with new passwords and the same signing keys
    async with conn.transaction():
        again = await seed(conn, force=False)
    assert not again.fresh
    assert again.secrets["demo-scale"] == world.secrets["demo-scale"]
    assert again.credentials.admin[1] != world.credentials.admin[1]
    assert await (await conn.execute("SELECT count(*) AS n FROM users")).fetchone() == {"n": 64}


async def test_real_users_make_the_demo_refuse_unless_forced(conn: Conn) -> None:
    await create_user(conn, email=BOOTSTRAP_ADMIN, role="admin", password=None)
    await refuse_foreign_data(conn, force=False)  # the auto-created first admin is tolerated
    await make_user(conn, "client", "real@example.test")
    with pytest.raises(UserError, match="1 non-demo user"):
        await refuse_foreign_data(conn, force=False)
    await refuse_foreign_data(conn, force=True)


def test_serve_demo_refuses_in_one_line_with_a_non_zero_exit(db_url: str) -> None:
    created = run_cli(db_url, "users", "create", "--email", "coach@example.test",
                      "--role", "trainer")
    assert created.returncode == 0, created.stderr
    refused = run_cli(db_url, "serve", "--demo", "--port", "0")
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "non-demo user" in errors[0] and "--force" in errors[0]
    assert "Traceback" not in refused.stderr
    left = run_cli(db_url, "users", "list")
    assert "demo.vitaltrust.local" not in left.stdout
