"""The rest of the operator console in Chromium against a real `vitaltrust serve` (desktop
1366x900 and phone 390x844): /clients search, pages and its sticky client column; readings
of one day spread by their time on a metric's chart, readings of one moment fanned out; the
webhook -> confidence latency of real deliveries in the dashboard's time-range panel.
Screenshots go to docs/img/ (the docs show them)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.web.conftest import delivered_world, signed_in
from tests.web.seed import cache_row
from tests.web.world import PASSWORD, World, deliveries, run_sync, send_samples
from vitaltrust.auth.users import assign_client, create_user
from vitaltrust.db import connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
PHONE_WIDTH = 390
EXTRA_CLIENTS = 28  # with Ann and Ben, the coach has 30 clients: two pages of 25
PAGE_SIZE = 25
DASH, TIMES = "\u2013", "\u00d7"  # en dash and times sign, as the page writes them
CHART = {"width": 720, "left": 48, "right": 10, "days": 30}  # samplesChart's geometry


async def add_clients(world: World) -> None:
    conn = await connect(world.db_url)
    try:
        for i in range(1, EXTRA_CLIENTS + 1):
            email = f"pat{i:02d}-{uuid.uuid4().hex[:6]}@example.test"
            user = await create_user(conn, email=email, role="client", password=PASSWORD,
                                     display_name=f"Pat Page {i:02d}")
            await assign_client(conn, trainer_email=world.emails["coach"], client_email=email)
            await cache_row(conn, user.user_id, "weight", 50.0 + i, "fair" if i % 2 else "good")
            # a second metric column: on a phone the table is then wider than the screen
            await cache_row(conn, user.user_id, "resting_heart_rate", 70.0, "good", latest=58)
    finally:
        await conn.close()


# the moments of the extra readings, fixed once: the fixture sends them, the tests find them.
# Two days back, not one: 19:00 yesterday lies within a few pixels of "3 hours ago" when the
# tests run in the evening or just after midnight, and the chart then (rightly) fans them out.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
DAY_BEFORE_7 = (NOW - timedelta(days=2)).replace(hour=7, minute=0)
DAY_BEFORE_19 = DAY_BEFORE_7.replace(hour=19)
AGO_3H, AGO_2H = NOW - timedelta(hours=3), NOW - timedelta(hours=2)


def scale_value_at(world: World, at: datetime) -> float:
    """What the world's smart scale sent for Ann at that moment."""
    assert world.delivered_at is not None
    ann_scale = next(samples for source, user, samples in deliveries(world.delivered_at)
                     if user == "smartscale-ann")
    return float(next(s["value"] for s in ann_scale if s["measured_at"] == at.isoformat()))


def weight(value: float, at: datetime, device: str) -> dict[str, Any]:
    return {"metric": "weight", "value": value, "unit": "kg", "measured_at": at.isoformat(),
            "device": {"type": device}}


@pytest.fixture(scope="module")
def world(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with delivered_world(pg_admin_url, template_db, tmp_path_factory.mktemp("vt-console2")) as w:
        run_sync(add_clients(w))
        # two days ago: the scale's 07:00 reading again from the phone app, the same moment
        # and value; and a second scale reading at 19:00 the same day
        send_samples(w, "phoneapp", "phoneapp-ann",
                     [weight(scale_value_at(w, DAY_BEFORE_7), DAY_BEFORE_7, "manual")])
        send_samples(w, "smartscale", "smartscale-ann", [weight(80.3, DAY_BEFORE_19, "scale")])
        # and two readings an hour apart within the last day
        send_samples(w, "smartscale", "smartscale-ann", [weight(80.2, AGO_3H, "scale"),
                                                         weight(80.5, AGO_2H, "scale")])
        yield w


def shot(target: Page | Locator, name: str) -> None:
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    if isinstance(target, Page):
        target.screenshot(path=str(DOCS_IMG / name), full_page=True)
    else:
        target.screenshot(path=str(DOCS_IMG / name))


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"the page is {width} px wide on a {PHONE_WIDTH} px phone"


def left_of(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return float(box["x"])


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_clients_search_pages_and_sticky_column(browser: Browser, world: World,
                                                phone: bool) -> None:
    page = signed_in(browser, world, "coach", "/clients", phone=phone)
    rows = page.locator("#clients tbody tr")
    expect(rows).to_have_count(PAGE_SIZE, timeout=15_000)
    expect(page.locator("#clients-count")).to_have_text("30 clients")
    expect(page.locator("#page-info")).to_have_text(f"1{DASH}25 of 30")
    expect(page.locator("#page-prev")).to_be_disabled()
    page.click("#page-next")
    expect(page.locator("#page-info")).to_have_text(f"26{DASH}30 of 30")
    expect(rows).to_have_count(5)
    expect(page.locator("#page-next")).to_be_disabled()
    assert "page=2" in page.url
    page.click("#page-prev")
    expect(page.locator("#page-info")).to_have_text(f"1{DASH}25 of 30")

    client_cell = rows.first.locator("td.vt-client")
    assert client_cell.evaluate("e => getComputedStyle(e).position") == "sticky"
    box = page.locator("#clients-box")
    if phone:  # the table scrolls inside its box; the client column stays at its left edge
        no_sideways_scroll(page)
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")
        last_sample = rows.first.locator("td").nth(1)
        before = left_of(last_sample)
        box.evaluate("e => { e.scrollLeft = 120; }")
        page.wait_for_timeout(100)
        assert left_of(last_sample) < before - 100  # the other columns moved
        assert abs(left_of(client_cell) - left_of(box)) <= 1  # the client column did not
        expect(client_cell).to_be_visible()
        shot(page, "console-clients-phone.png")
    else:
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        shot(page, "console-clients.png")

    page.fill("#filter-q", "archer")  # Ann Archer, by her name; server-side, debounced
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-user-id", str(world.ids["ann"]))
    expect(page.locator("#clients-count")).to_have_text("1 of 30 clients match")
    expect(page.locator("#clients-pager")).to_be_hidden()
    assert "q=archer" in page.url
    page.fill("#filter-q", world.emails["ben"].split("@")[0])  # Ben, by his e-mail
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-user-id", str(world.ids["ben"]))
    page.fill("#filter-q", "50%")  # % is text, not a wildcard
    expect(page.locator("#clients-empty-title")).to_have_text("No client matches")
    page.fill("#filter-q", "Pat Page")
    expect(page.locator("#page-info")).to_have_text(f"1{DASH}25 of 28")
    page.reload()  # the search and page live in the URL
    expect(page.locator("#filter-q")).to_have_value("Pat Page")
    expect(page.locator("#page-info")).to_have_text(f"1{DASH}25 of 28")


def centre(mark: Locator) -> float:
    """The x of a mark's centre in the chart's own units (circle or rotated square)."""
    tag = mark.evaluate("e => e.tagName")
    if tag == "circle":
        return float(mark.get_attribute("cx") or "nan")
    return float(mark.get_attribute("x") or "nan") + 4


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_readings_of_one_day_spread_by_time_and_one_moment_fanned_out(
        browser: Browser, world: World, phone: bool) -> None:
    page = signed_in(browser, world, "coach", f"/clients/{world.ids['ann']}/metrics/weight",
                     phone=phone)
    chart = page.locator("#chart-samples svg")
    at7, at19 = DAY_BEFORE_7.isoformat(), DAY_BEFORE_19.isoformat()
    scale7 = chart.locator(f".vt-point-resolved[data-at='{at7}']")
    phone7 = chart.locator(f".vt-point-conflict[data-at='{at7}']")
    scale19 = chart.locator(f".vt-point-resolved[data-at='{at19}']")
    expect(scale19).to_have_count(1, timeout=20_000)  # the delivery was processed and scored
    expect(phone7).to_have_count(1)
    # the same moment and value: two marks side by side, not one on top of the other
    expect(scale7).to_have_attribute("data-stack", "2")
    expect(phone7).to_have_attribute("data-stack", "2")
    assert centre(phone7) - centre(scale7) >= 6
    expect(chart.locator(".vt-stack-count")).to_contain_text([f"{TIMES}2"])
    # 07:00 and 19:00 of one day: half a day apart on the time axis
    half_day = (CHART["width"] - CHART["left"] - CHART["right"]) / CHART["days"] / 2
    moment7 = (centre(scale7) + centre(phone7)) / 2
    assert abs(centre(scale19) - moment7 - half_day) < 0.5, (centre(scale19), moment7, half_day)
    assert scale19.get_attribute("data-stack") is None
    line = chart.locator(".vt-series-resolved").get_attribute("points") or ""
    assert len(line.split()) == chart.locator(".vt-point-resolved").count()
    if phone:
        no_sideways_scroll(page)
        shot(page.locator("#chart-samples"), "console-metric-spread-phone.png")
    else:
        shot(page.locator("#chart-samples"), "console-metric-spread.png")
    # the last day alone: an hour is 1/24 of the width, the axis is labelled with times
    month = chart.locator(".vt-point-resolved").count()
    page.get_by_role("button", name="1 day", exact=True).click()
    expect(chart.locator(".vt-point-resolved")).not_to_have_count(month)
    first = chart.locator(f".vt-point-resolved[data-at='{AGO_3H.isoformat()}']")
    second = chart.locator(f".vt-point-resolved[data-at='{AGO_2H.isoformat()}']")
    expect(first).to_have_count(1)
    hour = (CHART["width"] - CHART["left"] - CHART["right"]) / 24
    assert abs(centre(second) - centre(first) - hour) < 0.5, (centre(first), centre(second))
    expect(chart.locator(".vt-time-label").first).to_have_text(re.compile(r"^\d\d-\d\d \d\d:\d\d$"))
    if phone:
        no_sideways_scroll(page)
    else:
        shot(page.locator("#chart-samples"), "console-metric-day.png")


def test_webhook_to_confidence_latency_in_the_time_range_panel(browser: Browser,
                                                               world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    api = httpx.get(f"{world.base}/api/admin/throughput", params={"range": "1h"},
                    headers=headers, timeout=10).json()
    latency = api["latency"]["webhook_to_confidence"]
    assert latency["p50_ms"] is not None and latency["p95_ms"] >= latency["p50_ms"] > 0
    minutes = [b for b in api["buckets"] if b["confidence_p50_ms"] is not None]
    assert minutes, "no minute of the last hour holds a webhook -> confidence latency"
    page = signed_in(browser, world, "admin", "/admin")
    page.get_by_role("button", name="1 h", exact=True).click()
    row = page.locator("#throughput-latency tr[data-key=webhook_to_confidence]")
    expect(row.locator("th")).to_have_text("Webhook → confidence")
    expect(row.locator("[data-q=p50]")).to_have_text(re.compile(r"^[\d.,]+ (ms|s)$|^≥ 60 s$"),
                                                     timeout=15_000)
    expect(row.locator("[data-q=p95]")).not_to_have_text(DASH)
    expect(page.locator("#throughput-summary")).to_contain_text("webhook → confidence p50")
    shot(page.locator("#throughput-panel"), "console-latency.png")
