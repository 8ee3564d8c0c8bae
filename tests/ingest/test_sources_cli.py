"""`vitaltrust sources create/rotate-secret/list/disable/enable` as an operator runs them."""

from __future__ import annotations

import base64
import json

import psycopg

from tests.ingest.support import provider_whsec
from tests.support.cli import run_cli


def _one_line_error(res: object, words: str) -> None:
    assert res.returncode != 0, res.stdout  # type: ignore[attr-defined]
    err = res.stderr.strip()  # type: ignore[attr-defined]
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_create_with_provider_secrets_list_disable_enable(db_url: str) -> None:
    whsec = provider_whsec()
    made = run_cli(db_url, "sources", "create", "junction-eu", "--kind", "junction",
                   "--secret", whsec, VITALTRUST_PUBLIC_URL="https://hooks.example.test/")
    assert made.returncode == 0, made.stderr
    assert "https://hooks.example.test/webhooks/junction-eu" in made.stdout
    assert whsec not in made.stdout and whsec[6:] not in made.stdout
    terra = run_cli(db_url, "sources", "create", "terra-1", "--kind", "terra",
                    "--secret", "terra-dashboard-secret-123")
    assert terra.returncode == 0 and "terra-dashboard-secret-123" not in terra.stdout
    garmin = run_cli(db_url, "sources", "create", "garmin-1", "--kind", "garmin",
                     "--garmin-client-id", "consumer-key-1")
    token = garmin.stdout.strip().splitlines()[2].rsplit("/", 1)[-1]
    assert len(token) >= 40, garmin.stdout
    with psycopg.connect(db_url) as c:
        rows = dict(c.execute("SELECT name, signing_key FROM webhook_sources").fetchall())
    assert bytes(rows["junction-eu"]) == base64.b64decode(whsec[6:])
    assert bytes(rows["terra-1"]) == b"terra-dashboard-secret-123"

    listed = run_cli(db_url, "sources", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {s["name"]: s for s in json.loads(listed.stdout)}
    assert set(by_name) == {"junction-eu", "terra-1", "garmin-1"}
    assert by_name["garmin-1"]["webhook_url"].endswith("/webhooks/garmin-1/****")
    assert by_name["garmin-1"]["garmin_client_id"] == "consumer-key-1"
    assert by_name["terra-1"]["enabled"] is True and by_name["terra-1"]["received_24h"] == 0
    for secret in (whsec[6:], "terra-dashboard-secret-123", token):
        assert secret not in listed.stdout
    table = run_cli(db_url, "sources", "list")
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("NAME")
    assert token not in table.stdout and "garmin-1/****" in table.stdout

    assert run_cli(db_url, "sources", "disable", "terra-1").returncode == 0
    off = {s["name"]: s["enabled"] for s in json.loads(
        run_cli(db_url, "sources", "list", "--json").stdout)}
    assert off == {"junction-eu": True, "terra-1": False, "garmin-1": True}
    assert run_cli(db_url, "sources", "enable", "terra-1").returncode == 0
    assert all(s["enabled"] for s in json.loads(
        run_cli(db_url, "sources", "list", "--json").stdout))


def test_rotate_secret(db_url: str) -> None:
    first = run_cli(db_url, "sources", "create", "std", "--kind", "standard")
    old = first.stdout.strip().splitlines()[-1].split()[-1]
    assert old.startswith("whsec_")
    new = provider_whsec()
    rotated = run_cli(db_url, "sources", "rotate-secret", "std", "--secret", new,
                      "--overlap", "2h")
    assert rotated.returncode == 0, rotated.stderr
    assert "keeps working until" in rotated.stdout and new not in rotated.stdout
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT signing_key, previous_signing_key, "
                        "previous_expires_at - now() FROM webhook_sources "
                        "WHERE name = 'std'").fetchone()
    assert row is not None
    assert bytes(row[0]) == base64.b64decode(new[6:]) and bytes(row[1]) == base64.b64decode(old[6:])
    assert 7000 < row[2].total_seconds() <= 7200
    again = run_cli(db_url, "sources", "rotate-secret", "std", "--overlap", "0")
    assert again.returncode == 0 and "stops working now" in again.stdout
    generated = [w for w in again.stdout.split() if w.startswith("whsec_")]
    assert len(generated) == 1
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT signing_key, previous_signing_key FROM webhook_sources "
                        "WHERE name = 'std'").fetchone()
    assert row is not None and row[1] is None
    assert bytes(row[0]) == base64.b64decode(generated[0][6:])


def test_bad_input_is_one_line_and_changes_nothing(db_url: str) -> None:
    assert run_cli(db_url, "sources", "create", "j", "--kind", "junction").returncode == 0
    for args, words in (
        (("sources", "create", "x", "--kind", "fax"), "kind must be one of"),
        (("sources", "create", "x", "--kind", "junction", "--secret", "whsec_***"),
         "whsec_<base64>"),
        (("sources", "create", "x", "--kind", "standard", "--secret", "no-prefix"),
         "whsec_<base64>"),
        (("sources", "create", "x", "--kind", "standard", "--secret", "whsec_AAAA"),
         "must decode to"),
        (("sources", "create", "x", "--kind", "terra", "--secret", "has spaces in it"),
         "terra signing secret"),
        (("sources", "create", "x", "--kind", "garmin", "--secret", "mine"), "omit --secret"),
        (("sources", "rotate-secret", "nope"), "no source named 'nope'"),
        (("sources", "rotate-secret", "j", "--overlap", "1 week"), "overlap must look like"),
        (("sources", "rotate-secret", "j", "--overlap", "90d"), "at most 30 days"),
        (("sources", "rotate-secret", "j", "--secret", "whsec_!"), "whsec_<base64>"),
        (("sources", "disable", "nope"), "no source named"),
        (("sources", "enable", "manual"), "no source named"),
    ):
        _one_line_error(run_cli(db_url, *args), words)
    with psycopg.connect(db_url) as c:
        names = [r[0] for r in c.execute("SELECT name FROM webhook_sources ORDER BY 1")]
        rotated = c.execute("SELECT secret_rotated_at FROM webhook_sources WHERE name = 'j'"
                            ).fetchone()
    assert names == ["j", "manual"] and rotated == (None,)
