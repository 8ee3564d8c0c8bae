"""The page guard: anonymous visitors go to /login?next=..., a wrong role gets a 403 page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.auth.helpers import login_ok
from tests.conftest import make_user
from vitaltrust.auth.pages import landing_for, safe_next
from vitaltrust.db import Conn


@pytest.mark.parametrize("value, expected", [
    ("/admin", "/admin"), ("/clients/3/metrics/weight?days=7", "/clients/3/metrics/weight?days=7"),
    ("//evil.example", None), ("https://evil.example/", None), ("/\\evil", None),
    ("admin", None), ("/a\r\nSet-Cookie: x=1", None), ("", None), (None, None),
    ("/" + "a" * 600, None),
])
def test_safe_next(value: str | None, expected: str | None) -> None:
    assert safe_next(value) == expected


def test_landing() -> None:
    assert landing_for("client", None) == "/clients"
    assert landing_for("trainer", "//x") == "/clients"  # a trainer's home: their clients
    assert landing_for("admin", "/clients") == "/clients"


async def test_anonymous_page_visit_keeps_path_and_query(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/clients?metric=weight&level=poor")
    assert r.status_code == 303
    location = urlsplit(r.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/clients?metric=weight&level=poor"]


async def test_client_gets_a_403_page_not_json(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    await login_ok(app_client, user.email)
    r = await app_client.get("/admin")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert user.email in r.text and 'href="/login"' in r.text
    assert r.headers["x-frame-options"] == "DENY"
