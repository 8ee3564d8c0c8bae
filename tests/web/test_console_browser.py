"""The operator console in Chromium against a real `vitaltrust serve` (desktop and phone):
a failed job found from the dashboard in two clicks, an unmatched account linked from the
deliveries page and its delivery processed, the client overview, navigation and error
pages. Screenshots of each new page go to docs/img/ (the docs show them)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import delivered_world, signed_in
from tests.web.world import World, run_sync, send_samples
from vitaltrust.auth.users import create_user
from vitaltrust.db import connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE = {"width": 390, "height": 844}


async def add_dora(world: World) -> None:
    conn = await connect(world.db_url)
    try:  # Dora has data at the scale maker, but nobody linked her account yet
        email = f"dora-{uuid.uuid4().hex[:6]}@example.test"
        user = await create_user(conn, email=email, role="client", password="correct horse battery",
                                 display_name="Dora Diaz")
        world.ids["dora"], world.emails["dora"] = user.user_id, email
    finally:
        await conn.close()


def send_unmatched(world: World) -> None:
    send_samples(world, "smartscale", "smartscale-dora", [
        {"metric": "weight", "value": 64.2, "unit": "kg",
         "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
         "device": {"type": "scale"}}])


@pytest.fixture(scope="module")
def world(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with delivered_world(pg_admin_url, template_db, tmp_path_factory.mktemp("vt-console")) as w:
        run_sync(add_dora(w))
        send_unmatched(w)
        yield w


def shot(page: Page, name: str) -> None:
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / name), full_page=True)


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_failed_job_from_dashboard_in_two_clicks(browser: Browser, world: World,
                                                 phone: bool) -> None:
    page = signed_in(browser, world, "admin", "/admin", phone=phone)
    failed = page.locator("#link-failed-jobs")
    expect(failed).to_have_text("3", timeout=15_000)
    failed.click()                                                   # click 1
    expect(page).to_have_url(re.compile(r"/admin/jobs\?status=failed$"))
    rows = page.locator("#jobs tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#jobs-counts")).to_contain_text("3 failed")
    if not phone:
        shot(page, "console-jobs.png")
    rows.first.locator("a").click()                                  # click 2
    expect(page.locator("#job-error")).to_contain_text(
        "webhook_processing payload needs an integer webhook_event_id")
    expect(page.locator("#job-status")).to_have_text("failed")
    expect(page.locator("#job-summary")).to_contain_text("attempt 3 of 3")
    attempts = page.locator("#job-attempts li")
    expect(attempts).to_have_count(3)
    expect(attempts.last).to_contain_text("failed for good")
    expect(page.locator("#job-payload")).to_contain_text('"browser_test"')
    if phone:  # before a traceback is opened: its file paths are this machine's
        no_sideways_scroll(page)
        shot(page, "console-job-phone.png")
    else:
        shot(page, "console-job.png")
    attempts.last.locator("summary").click()
    expect(attempts.last.locator(".vt-traceback")).to_contain_text("Traceback (most recent call last)")


def test_retry_a_selection_from_the_list(browser: Browser, world: World) -> None:
    page = signed_in(browser, world, "admin", "/admin/jobs")
    page.goto("/admin/jobs?status=failed&type=webhook_processing")
    expect(page.locator("#jobs tbody tr")).to_have_count(3)
    page.locator("#jobs tbody tr").first.locator("input[type=checkbox]").check()
    page.click("#btn-retry-selected")
    page.click("#confirm-ok")
    expect(page.locator("#action-result")).to_have_text("Retried 1 job.")
    expect(page.locator("#btn-retry-type")).to_have_text("Retry all failed webhook_processing jobs")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_link_unmatched_account_and_see_its_delivery_processed(
        browser: Browser, world: World, phone: bool) -> None:
    page = signed_in(browser, world, "admin", "/admin/webhooks?range=", phone=phone)
    total = page.locator("#delivery-sources tr[data-source=all]")
    expect(total.locator("[data-key=received]")).to_have_text("5", timeout=15_000)
    if phone:  # the link was made on the desktop run: the account no longer waits
        expect(page.locator("#unmatched-empty")).to_be_visible()
        no_sideways_scroll(page)
        shot(page, "console-deliveries-phone.png")
        return
    row = page.locator("#unmatched tr[data-account=smartscale-dora]")
    expect(row.locator("td").nth(2)).to_have_text("1")
    expect(total.locator("[data-key=unmatched]")).to_have_text("1")
    shot(page, "console-deliveries.png")
    row.locator("input").fill(world.emails["dora"])
    row.locator("button").click()
    expect(page.locator("#link-result")).to_contain_text("1 waiting delivery sent for processing")
    # the worker processes it: the counts move from unmatched to processed, received stays
    page.wait_for_timeout(1500)
    page.reload()
    expect(total.locator("[data-key=unmatched]")).to_have_text("0", timeout=15_000)
    expect(total.locator("[data-key=processed]")).to_have_text("5")
    expect(total.locator("[data-key=received]")).to_have_text("5")
    expect(page.locator("#unmatched-empty")).to_be_visible()
    page.locator("#events tbody tr").first.locator("a").click()
    expect(page.locator("#event-status")).to_have_text("processed")
    expect(page.locator("#event-accounts")).to_contain_text("Dora Diaz")
    expect(page.locator("#event-body")).to_contain_text('"smartscale-dora"')
    shot(page, "console-delivery.png")


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_client_overview_and_navigation(browser: Browser, world: World, phone: bool) -> None:
    page = signed_in(browser, world, "coach", "/clients", phone=phone)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/clients$"))  # a trainer's home: their clients
    page.goto(f"/clients/{world.ids['ann']}")
    expect(page.locator("h1")).to_have_text("Ann Archer")
    expect(page.locator("#metrics [data-metric=weight]")).to_contain_text("kg")
    expect(page.locator("#metrics [data-metric=weight] svg")).to_be_visible()
    expect(page.locator("#sources tbody tr")).to_have_count(2)
    expect(page.locator("#sources tr[data-source=smartscale]")).to_contain_text("scale")
    expect(page.locator("#problems")).to_contain_text("Every delivery for this client was processed.")
    if phone:
        no_sideways_scroll(page)
        shot(page, "console-client-phone.png")
    else:
        shot(page, "console-client.png")
    # another trainer's client and an unknown page: HTML pages, not JSON
    missing = page.goto(f"/clients/{world.ids['cleo']}")
    assert missing is not None and missing.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    nowhere = page.goto("/no/such/page")
    assert nowhere is not None and nowhere.status == 404
    assert nowhere.headers["content-type"].startswith("text/html")
    expect(page.locator("h1")).to_have_text("Page not found")
    forbidden = page.goto("/admin/jobs")
    assert forbidden is not None and forbidden.status == 403
    icon = page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg")
    page.goto("/clients")
    page.click("#vt-logout")
    expect(page.locator("#login-notice")).to_have_text("You are signed out.")


def test_trainer_sees_data_quality_not_internals(browser: Browser, world: World) -> None:
    page = signed_in(browser, world, "coach", "/admin")
    expect(page.locator("#quality-status")).to_have_text(re.compile("healthy|degraded|poor"))
    expect(page.locator("#quality-checks li")).to_have_count(1)
    for hidden in ("#card-health", "#card-queue", "#card-webhooks", "#card-workers"):
        expect(page.locator(hidden)).to_be_hidden()


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_flagged_value_is_clamped_outside_the_scale(browser: Browser, world: World,
                                                    phone: bool) -> None:
    if not phone:  # Ann types 412 kg by mistake (once, for both runs)
        r = httpx.post(f"{world.base}/api/me/samples", timeout=10,
                       headers={"Authorization": f"Bearer {world.tokens['ann']}"},
                       json={"metric": "weight", "value": 412, "unit": "kg"})
        assert r.status_code == 201, r.text
    page = signed_in(browser, world, "coach", f"/clients/{world.ids['ann']}/metrics/weight",
                     phone=phone)
    chart = page.locator("#chart-samples svg")
    flagged = chart.locator(".vt-point-flagged[data-clamped=above]")
    expect(flagged).to_have_count(1, timeout=15_000)
    expect(chart.locator(".vt-flag-value")).to_have_text("412 kg")
    expect(chart.locator(".vt-axis-unit")).to_have_text("kg")
    ticks = [float(t) for t in chart.locator("text[text-anchor=end]").all_text_contents()
             if re.fullmatch(r"\d+(\.\d)?", t)]
    assert ticks and max(ticks) < 100, ticks  # the 412 did not set the axis
    line = chart.locator(".vt-series-resolved").get_attribute("points") or ""
    assert len(line.split()) == chart.locator(".vt-point-resolved").count()
    if phone:
        no_sideways_scroll(page)
        shot(page, "console-metric-phone.png")
    else:
        shot(page, "console-metric.png")


def test_dashboard_time_range_throughput_and_latency(browser: Browser, world: World) -> None:
    page = signed_in(browser, world, "admin", "/admin")
    summary = page.locator("#throughput-summary")
    expect(summary).to_contain_text("deliveries received", timeout=15_000)
    expect(summary).to_contain_text("Job run time p50")
    for label in ("1 h", "7 d", "30 d", "24 h"):
        page.get_by_role("button", name=label, exact=True).click()
        expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute(
            "aria-pressed", "true")
        expect(page.locator("#chart-throughput svg rect").first).to_be_visible()
    assert int(page.locator("#throughput-summary").inner_text().split()[0]) >= 5
    shot(page, "console-dashboard.png")
