"""`vitaltrust selftest` usage errors and an unreachable deployment."""

from __future__ import annotations

import json

from tests.support.cli import run_cli
from tests.support.procs import free_port
from vitaltrust.selftest.checks import CHECKS


def test_unknown_check_is_a_usage_error(db_url: str) -> None:
    done = run_cli(db_url, "selftest", "--url", "http://127.0.0.1:9", "--token", "x",
                   "--check", "nope")
    assert done.returncode == 2
    assert "unknown check(s) nope" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_deployment_fails_every_check(db_url: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = run_cli(db_url, "selftest", "--url", url, "--token", "x", "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [r["check"] for r in report["results"]] == list(CHECKS)
    assert all(not r["ok"] and "could not create the sandbox" in r["detail"]
               for r in report["results"])
    table = run_cli(db_url, "selftest", "--url", url, "--token", "x", "--check", "idempotency")
    assert table.returncode == 1
    assert "idempotency" in table.stdout and "FAIL" in table.stdout
