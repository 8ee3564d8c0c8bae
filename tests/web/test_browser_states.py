"""Dashboard states in Chromium on a brand-new install served by `vitaltrust api` (no
worker): the empty state, the words for "jobs pending and no worker alive", the refresh
without reload, the error banner, and a trainer's view without the retry button."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.web.conftest import served_world, signed_in
from tests.web.world import PASSWORD, World, run_sync
from vitaltrust.auth.users import create_user
from vitaltrust.db import connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENQUEUE = "INSERT INTO background_jobs (type, payload) VALUES ('confidence_calculation', '{}')"


async def _execute(db_url: str, statement: str) -> None:
    conn = await connect(db_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _users(db_url: str) -> World:
    world = World(db_url)
    conn = await connect(db_url)
    try:
        for key, role in (("admin", "admin"), ("coach", "trainer")):
            world.emails[key] = f"{key}@fresh.example.test"
            user = await create_user(conn, email=world.emails[key], role=role, password=PASSWORD)
            world.ids[key] = user.user_id
    finally:
        await conn.close()
    return world


@pytest.fixture(scope="module")
def fresh(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with served_world(pg_admin_url, template_db, tmp_path_factory.mktemp("vt-fresh"), "api",
                      _users) as world:
        yield world


def test_new_install_then_refresh_and_api_failure(browser: Browser, fresh: World,
                                                  artifacts_dir: Path) -> None:
    page = signed_in(browser, fresh, "admin", "/admin")
    page.clock.install()
    page.reload()
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#queue-stats dd[data-key=pending]")).to_have_text("0")
    expect(page.locator("#chart-distribution")).to_contain_text("No confidence scores yet.")
    expect(page.locator("#activity-empty")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "admin-empty.png"), full_page=True)

    # a job arrives and nobody runs it: the next 30-second refresh says so, without a reload
    run_sync(_execute(fresh.db_url, ENQUEUE))
    marker = page.evaluate("window.__notReloaded = true")
    assert marker is True
    page.clock.run_for(31_000)
    expect(page.locator("#queue-stats dd[data-key=pending]")).to_have_text("1")
    expect(page.locator("#health-status")).to_have_text("critical")
    expect(page.locator("#health-summary")).to_contain_text(
        "No worker is alive but 1 jobs are pending")
    expect(page.locator("#empty-state")).to_be_hidden()
    assert page.evaluate("window.__notReloaded") is True

    # the API fails: a banner says which call, the last numbers stay
    def fail(route: Route) -> None:
        route.fulfill(status=503, content_type="application/problem+json",
                      body='{"title": "Service Unavailable", "status": 503, '
                           '"detail": "database unreachable"}')

    page.route("**/api/admin/monitoring", fail)
    page.clock.run_for(31_000)
    banner = page.locator("#vt-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("/api/admin/monitoring: 503 database unreachable")
    page.screenshot(path=str(artifacts_dir / "admin-api-error.png"), full_page=True)
    page.unroute("**/api/admin/monitoring")
    page.clock.run_for(31_000)
    expect(banner).to_be_hidden()


def test_trainer_sees_dashboard_without_retry(browser: Browser, fresh: World) -> None:
    page = signed_in(browser, fresh, "coach", "/admin")
    expect(page.locator("#quality-status")).not_to_have_text("…")
    # their clients' data quality, no system internals
    for hidden in ("#card-health", "#card-queue", "#card-webhooks", "#card-workers", "#btn-retry"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#btn-recalc")).to_be_visible()
    expect(page.locator("#confidence-note")).to_contain_text("your clients")
    page.click("#btn-recalc")
    expect(page.locator("#confirm-text")).to_have_text("Recalculate the confidence of all your clients?")
    page.click("#confirm-ok")
    expect(page.locator("#action-result")).to_have_text("Queued 0 recalculations.")
    page.goto("/clients")
    expect(page.locator("#clients-empty")).to_be_visible()
    expect(page.locator("#clients-empty-title")).to_have_text("No clients yet")
