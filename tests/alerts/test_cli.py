"""`vitaltrust alerts ...`: bad input is one line on stderr and a non-zero exit."""

from __future__ import annotations

from tests.support.cli import run_cli
from vitaltrust.alerts.secrets import new_key


def test_alerts_cli_errors_and_listing(db_url: str) -> None:
    key = {"VITALTRUST_OUTBOUND_SECRET_KEY": new_key()}
    no_key = run_cli(db_url, "alerts", "destinations", "add", "a", "--kind", "slack",
                     "--target", "https://hooks.example/x")
    assert no_key.returncode == 1
    assert no_key.stderr.strip().splitlines() == [
        "error: VITALTRUST_OUTBOUND_SECRET_KEY is not set: generate one with `vitaltrust alerts "
        "keygen` and set it for every vitaltrust process"]
    bad = run_cli(db_url, "alerts", "destinations", "add", "a", "--kind", "pager",
                  "--target", "https://hooks.example/x", **key)
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown kind 'pager'")
    gone = run_cli(db_url, "alerts", "destinations", "remove", "nope", **key)
    assert (gone.returncode, gone.stderr.strip()) == (1, "error: no destination named 'nope'")
    ok = run_cli(db_url, "alerts", "subscriptions", "add", "coach", "--url",
                 "https://coach.example/h", "--event", "alert.firing", **key)
    assert ok.returncode == 0 and "whsec_" in ok.stdout
    listed = run_cli(db_url, "alerts", "subscriptions", "list", **key)
    assert "coach" in listed.stdout and "https://coach.example/…" in listed.stdout
    assert "/h" not in listed.stdout.replace("https://coach.example/…", "")
    assert len(run_cli(db_url, "alerts", "keygen").stdout.strip()) == 44
