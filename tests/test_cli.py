"""The CLI against a real database: accounts, sources, errors as one line."""

from __future__ import annotations

import hashlib

import psycopg

from tests.support.cli import run_cli


def test_users_create_assign_and_errors(db_url: str) -> None:
    ok = run_cli(db_url, "users", "create", "--email", "t@x.test", "--role", "trainer")
    assert ok.returncode == 0, ok.stderr
    assert "password:" in ok.stdout
    assert run_cli(db_url, "users", "create", "--email", "c@x.test", "--role", "client",
                   "--password", "pw-123456").returncode == 0
    assigned = run_cli(db_url, "users", "assign", "--trainer", "t@x.test", "--client", "c@x.test")
    assert assigned.returncode == 0, assigned.stderr
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT count(*) FROM trainer_clients").fetchone()
        assert row is not None and row[0] == 1
        pw = c.execute("SELECT password_hash FROM users WHERE email = 'c@x.test'").fetchone()
        assert pw is not None and pw[0].startswith("$argon2") and "pw-123456" not in pw[0]

    dup = run_cli(db_url, "users", "create", "--email", "t@x.test", "--role", "trainer")
    bad_role = run_cli(db_url, "users", "create", "--email", "z@x.test", "--role", "king")
    bad_tz = run_cli(db_url, "users", "create", "--email", "z@x.test", "--role", "client",
                     "--time-zone", "Mars/Olympus")
    wrong = run_cli(db_url, "users", "assign", "--trainer", "c@x.test", "--client", "t@x.test")
    for res, words in ((dup, "already exists"), (bad_role, "role must be"),
                       (bad_tz, "time zone"), (wrong, "no trainer")):
        assert res.returncode != 0
        assert words in res.stderr
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_sources_create_and_link(db_url: str) -> None:
    run_cli(db_url, "users", "create", "--email", "c@x.test", "--role", "client")
    out = run_cli(db_url, "sources", "create", "acme", "--kind", "standard")
    assert out.returncode == 0, out.stderr
    assert "whsec_" in out.stdout
    garmin = run_cli(db_url, "sources", "create", "g1", "--kind", "garmin")
    url = garmin.stdout.strip().splitlines()[2]  # the URL to register, with its token
    assert url.startswith("http://127.0.0.1:8000/webhooks/g1/"), garmin.stdout
    secret = url.rsplit("/", 1)[-1]
    linked = run_cli(db_url, "sources", "link", "acme", "--external-id", "ext-1", "--user", "c@x.test")
    assert linked.returncode == 0, linked.stderr
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT s.name, a.external_user_id FROM source_accounts a "
                        "JOIN webhook_sources s USING (source_id)").fetchone()
        assert row == ("acme", "ext-1")
        stored = c.execute("SELECT shared_secret_hash FROM webhook_sources WHERE name = 'g1'").fetchone()
        assert stored is not None and bytes(stored[0]) == hashlib.sha256(secret.encode()).digest()
    for args, words in ((("sources", "create", "acme", "--kind", "standard"), "already exists"),
                        (("sources", "create", "x", "--kind", "fax"), "kind must be"),
                        (("sources", "create", "Bad Name", "--kind", "terra"), "source name"),
                        (("sources", "link", "nope", "--external-id", "1", "--user", "c@x.test"),
                         "no source")):
        res = run_cli(db_url, *args)
        assert res.returncode != 0 and words in res.stderr and "Traceback" not in res.stderr


def test_db_url_prints_a_usable_url(db_url: str) -> None:
    out = run_cli(db_url, "db", "url")
    assert out.returncode == 0
    with psycopg.connect(out.stdout.strip()) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_every_command_has_help(db_url: str) -> None:
    for args in (["--help"], ["serve", "--help"], ["api", "--help"], ["worker", "--help"],
                 ["migrate", "--help"], ["db", "url", "--help"], ["users", "create", "--help"],
                 ["users", "assign", "--help"], ["sources", "create", "--help"],
                 ["sources", "link", "--help"], ["sources", "rotate-secret", "--help"],
                 ["sources", "list", "--help"], ["sources", "disable", "--help"],
                 ["sources", "enable", "--help"]):
        res = run_cli(db_url, *args)
        assert res.returncode == 0 and "Usage" in res.stdout, (args, res.stderr)


def test_unreachable_database_is_one_line(db_url: str) -> None:
    res = run_cli("postgresql://nobody@127.0.0.1:1/none", "migrate")
    assert res.returncode != 0 and "cannot reach the database" in res.stderr
    assert "Traceback" not in res.stderr
