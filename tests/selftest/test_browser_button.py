"""The dashboard's "Run self-test" button in Chromium against a real `vitaltrust serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.conftest import browser, served_world, signed_in  # noqa: F401 (fixture)
from tests.web.world import World, seed_accounts
from vitaltrust.selftest.checks import CHECKS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def world(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[World]:
    with served_world(pg_admin_url, template_db, tmp_path_factory.mktemp("vt-selftest"),
                      "serve", seed_accounts) as w:
        yield w


def test_admin_runs_the_selftest_from_the_dashboard(browser: Browser,  # noqa: F811
                                                    world: World, artifacts_dir: Path) -> None:
    page = signed_in(browser, world, "admin", "/admin")
    button = page.locator("#btn-selftest")
    expect(button).to_be_visible()
    button.click()
    status = page.locator("#selftest-status")
    expect(status).to_have_text("All checks passed.", timeout=60_000)
    expect(status).to_have_attribute("data-ok", "true")
    rows = page.locator("#selftest-results tbody tr")
    expect(rows).to_have_count(len(CHECKS))
    for i, name in enumerate(CHECKS):
        expect(rows.nth(i)).to_have_attribute("data-check", name)
        expect(rows.nth(i).locator("td").nth(1)).to_have_text("PASS")
    expect(button).to_be_enabled()
    page.screenshot(path=str(artifacts_dir / "admin-selftest.png"), full_page=True)


def test_trainer_has_no_selftest_button(browser: Browser, world: World) -> None:  # noqa: F811
    page = signed_in(browser, world, "coach", "/admin")
    expect(page.locator("#queue-stats dd[data-key=pending]")).not_to_have_text("…")
    expect(page.locator("#selftest")).to_be_hidden()
    expect(page.locator("#btn-selftest")).to_be_hidden()
