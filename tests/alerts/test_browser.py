"""/admin/alerts in Debian's Chromium against a real `vitaltrust api` process: an admin adds
a destination (secret shown once), queues a test and reads the delivery log; a trainer is
refused the page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.pg import create_database, drop_database, unique_name, with_dbname
from tests.support.procs import running_api
from tests.web.conftest import browser, signed_in  # noqa: F401 - the fixture
from tests.web.world import SERVER_ENV, World, run_sync, seed_accounts
from vitaltrust.alerts.secrets import new_key

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    name = unique_name("vt_alerts_web")
    create_database(pg_admin_url, name, template=template_db)
    db_url = with_dbname(pg_admin_url, name)
    try:
        w = run_sync(seed_accounts(db_url))
        with running_api(db_url, command="api", log_path=tmp_path_factory.mktemp("l") / "api.log",
                         VITALTRUST_OUTBOUND_SECRET_KEY=new_key(),
                         VITALTRUST_DATA_DIR=str(tmp_path_factory.mktemp("d")),
                         # no worker runs here: the API's watchdog would send its own
                         # "no live worker" alert to the new destination beside the test
                         VITALTRUST_ALERT_WATCHDOG="false",
                         **SERVER_ENV) as base:
            w.base = base
            yield w
    finally:
        drop_database(pg_admin_url, name)


def test_admin_manages_destinations_on_the_alerts_page(browser: Browser, world: World,  # noqa: F811
                                                       artifacts_dir: Path) -> None:
    page = signed_in(browser, world, "admin", "/admin/alerts")
    page.fill("#add-destination input[name=name]", "ops-hook")
    page.select_option("#add-destination select[name=kind]", "webhook")
    page.fill("#add-destination input[name=target]", "https://hooks.example/path-secret")
    page.click("#add-destination button[type=submit]")
    expect(page.locator("#destination-result")).to_contain_text("Signing secret (shown once): whsec_")
    row = page.locator("#destinations tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("https://hooks.example/…")
    expect(row).not_to_contain_text("path-secret")
    # the log is read when "Log" is clicked: wait for the test send's answer first (it
    # fails to resolve hooks.example, which can take seconds on a loaded host)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/test"),
                              timeout=30_000):
        row.get_by_role("button", name="Send test").click()
    row.get_by_role("button", name="Log").click()
    log = page.locator("#delivery-log tbody tr")
    expect(log).to_have_count(1)
    expect(log).to_contain_text("alert.firing")
    # a bad target: the server's own words in the banner, nothing added
    page.fill("#add-destination input[name=name]", "bad")
    page.fill("#add-destination input[name=target]", "ftp://hooks.example/")
    page.click("#add-destination button[type=submit]")
    expect(page.locator("#vt-banner")).to_contain_text("https://")
    expect(row).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "admin-alerts.png"), full_page=True)


def test_trainer_is_refused_the_alerts_page(browser: Browser, world: World) -> None:  # noqa: F811
    page = signed_in(browser, world, "coach", "/clients")
    response = page.goto("/admin/alerts")
    assert response is not None and response.status == 403
