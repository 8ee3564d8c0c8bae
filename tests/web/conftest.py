"""Chromium for the browser tests: Debian's /usr/bin/chromium, never a downloaded one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.pg import create_database, drop_database, unique_name, with_dbname
from tests.support.procs import running_api
from tests.web.world import PASSWORD, SERVER_ENV, World, deliver_everything, run_sync, seed_accounts

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def signed_in(browser: Browser, world: World, who: str, next_path: str,
              *, phone: bool = False) -> Page:
    size = {"width": 390, "height": 844} if phone else {"width": 1366, "height": 900}
    page = browser.new_context(viewport=size, base_url=world.base).new_page()
    page.goto(f"/login?next={next_path}")
    page.fill("input[name=email]", world.emails[who])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(next_path).path)
    return page




@contextmanager
def served_world(pg_admin_url: str, template_db: str, data_dir: Path, command: str,
                 seed: Callable[[str], Awaitable[World]]) -> Iterator[World]:
    """A fresh database seeded by `seed`, served by `vitaltrust <command>` (log kept)."""
    name = unique_name("vt_web")
    create_database(pg_admin_url, name, template=template_db)
    db_url = with_dbname(pg_admin_url, name)
    logs = Path(__file__).resolve().parents[2] / "test-artifacts"
    logs.mkdir(exist_ok=True)
    try:
        world = run_sync(seed(db_url))
        with running_api(db_url, command=command, log_path=logs / f"browser-{command}.log",
                         VITALTRUST_DATA_DIR=str(data_dir), **SERVER_ENV) as base:
            world.base = base
            yield world
    finally:
        drop_database(pg_admin_url, name)


@contextmanager
def delivered_world(pg_admin_url: str, template_db: str, data_dir: Path) -> Iterator[World]:
    """`seed_accounts` served by `vitaltrust serve`, every test webhook delivered and scored."""
    with served_world(pg_admin_url, template_db, data_dir, "serve", seed_accounts) as world:
        deliver_everything(world)
        yield world
