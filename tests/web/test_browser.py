"""The pages in Debian's Chromium against a real `vitaltrust serve`, on data that arrived
through signed webhooks and was processed by the worker (issues 6 and 9)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import served_world, signed_in
from tests.web.world import (
    FAILING_JOBS,
    World,
    deliver_everything,
    failed_jobs,
    seed_accounts,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"


@pytest.fixture(scope="module")
def world(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[World]:
    with served_world(pg_admin_url, template_db, tmp_path_factory.mktemp("vt-web"), "serve",
                      seed_accounts) as w:
        deliver_everything(w)
        yield w


def test_admin_sees_real_data_and_retries_failed_jobs(browser: Browser, world: World,
                                                       artifacts_dir: Path) -> None:
    page = signed_in(browser, world, "admin", "/admin")
    failed = page.locator("#queue-stats dd[data-key=failed]")
    expect(failed).to_have_text(str(FAILING_JOBS), timeout=15_000)
    expect(page.locator("#webhook-stats dd[data-key=received]")).to_have_text("4")
    expect(page.locator("#confidence-average")).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    expect(page.locator("#health-status")).to_have_text(re.compile("healthy|degraded|critical"))
    expect(page.locator("#health-checks li")).to_have_count(6)
    expect(page.locator("#quality-checks li")).to_have_count(1)
    expect(page.locator("#worker-stats dd[data-key=alive]")).to_have_text("1")
    expect(page.locator("#activity tbody tr")).to_have_count(10)
    expect(page.locator("#chart-distribution svg rect")).to_have_count(5)
    expect(page.locator("#chart-jobs svg rect").first).to_be_visible()
    expect(page.locator("#chart-quality svg circle").first).to_be_visible()
    expect(page.locator("#empty-state")).to_be_hidden()
    expect(page.locator("#vt-banner")).to_be_hidden()
    page.screenshot(path=str(artifacts_dir / "admin-dashboard.png"), full_page=True)
    if os.environ.get("UPDATE_README_SCREENSHOT") == "1":  # not on every run: no churn
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts_dir / "admin-dashboard.png", README_SCREENSHOT)

    page.click("#btn-retry")
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-ok")
    expect(page.locator("#action-result")).to_have_text(f"Retried {FAILING_JOBS} failed jobs.")
    # the retried jobs wait out their backoff before failing again: the card shows it
    expect(failed).to_have_text("0", timeout=5_000)
    assert failed_jobs(world.db_url) < FAILING_JOBS
    page.screenshot(path=str(artifacts_dir / "admin-after-retry.png"), full_page=True)

    phone = signed_in(browser, world, "admin", "/admin", phone=True)
    expect(phone.locator("#queue-stats dd[data-key=pending]")).not_to_have_text("…")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard overflows a phone screen: {width}px"
    phone.screenshot(path=str(artifacts_dir / "admin-phone.png"), full_page=True)


def test_client_is_refused_the_dashboard(browser: Browser, world: World,
                                         artifacts_dir: Path) -> None:
    page = signed_in(browser, world, "ann", "/clients")
    response = page.goto("/admin")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    page.screenshot(path=str(artifacts_dir / "client-refused.png"))
    # their own data only, on the clients page
    page.goto("/clients")
    expect(page.locator("#clients tbody tr")).to_have_count(1)
    expect(page.locator("#clients tbody tr")).to_have_attribute("data-user-id", str(world.ids["ann"]))
    response = page.goto(f"/clients/{world.ids['ben']}/metrics/weight")
    assert response is not None and response.status == 404


def test_trainer_filters_drills_down_and_changes_priority(browser: Browser, world: World,
                                                          artifacts_dir: Path) -> None:
    page = signed_in(browser, world, "coach", "/clients")
    rows = page.locator("#clients tbody tr")
    expect(rows).to_have_count(2)
    shown = {rows.nth(i).get_attribute("data-user-id") for i in range(2)}
    assert shown == {str(world.ids["ann"]), str(world.ids["ben"])}
    expect(rows.first).to_have_attribute("data-user-id", str(world.ids["ben"]))  # worst first
    expect(page.locator("td[data-metric=weight] svg.vt-spark").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "trainer-clients.png"), full_page=True)

    page.select_option("#filter-metric", "weight")
    page.select_option("#filter-level", "poor")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-user-id", str(world.ids["ben"]))
    expect(rows.first.locator(".vt-badge")).to_have_text("poor")
    assert "level=poor" in page.url
    page.screenshot(path=str(artifacts_dir / "trainer-filter-poor.png"), full_page=True)

    phone = signed_in(browser, world, "coach", "/clients", phone=True)
    expect(phone.locator("#clients tbody tr")).to_have_count(2)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"/clients overflows a phone screen: {width}px"
    phone.screenshot(path=str(artifacts_dir / "trainer-clients-phone.png"), full_page=True)

    page.goto(f"/clients/{world.ids['ann']}/metrics/weight")
    chart = page.locator("#chart-samples")
    expect(chart.locator(".vt-point-conflict").first).to_be_visible()
    expect(chart.locator(".vt-point-resolved").first).to_be_visible()
    expect(page.locator("#components tbody tr")).not_to_have_count(0)
    expect(page.locator("#reasons li").first).to_be_visible()
    score = page.locator("#score-value")
    expect(score).to_have_text(re.compile(r"^\d"))
    before = score.inner_text()
    page.click("[data-days='90']")
    expect(page.locator("[data-days='90']")).to_have_attribute("aria-pressed", "true")

    manual = page.locator("#priority li[data-device=manual]")
    while page.locator("#priority li").first.get_attribute("data-device") != "manual":
        manual.locator("button[aria-label='move manual up']").click()
    page.click("#priority-save")
    expect(page.locator("#priority-result")).to_contain_text("New score", timeout=30_000)
    expect(score).not_to_have_text(before)
    # the new resolved series alternates manual and scale (+3 kg within a day): the
    # recalculation flags those samples RAPID_CHANGE and the chart marks them
    expect(chart.locator(".vt-point-flagged").first).to_be_visible()
    expect(chart.locator(".vt-point-flagged title").first).to_contain_text("rapid change")
    page.reload()
    expect(page.locator("#priority li").first).to_have_attribute("data-device", "manual")
    page.screenshot(path=str(artifacts_dir / "trainer-drilldown.png"), full_page=True)

    # another trainer's client does not exist for this trainer
    response = page.goto(f"/clients/{world.ids['cleo']}/metrics/weight")
    assert response is not None and response.status == 404
