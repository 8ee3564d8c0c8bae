"""The page routes against every role: redirects, 403 and 404 pages, shells, static files."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from tests.web.seed import assign
from vitaltrust.db import Conn

PAGES = ("/admin", "/clients", "/clients/1/metrics/weight")


@pytest.mark.parametrize("path", PAGES)
async def test_anonymous_goes_to_login(app_client: httpx.AsyncClient, path: str) -> None:
    r = await app_client.get(path + "?x=1")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    assert "x%3D1" in r.headers["location"] or "x=1" in r.headers["location"]


async def test_admin_page_by_role(app_client: httpx.AsyncClient, conn: Conn) -> None:
    client = await make_user(conn, "client")
    r = await app_client.get("/admin", headers=await bearer_for(conn, client))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "admin.js" not in r.text
    for role in ("trainer", "admin"):
        user = await make_user(conn, role)
        r = await app_client.get("/admin", headers=await bearer_for(conn, user))
        assert r.status_code == 200
        assert '<script type="module" src="/static/js/admin.js"></script>' in r.text
        assert f'data-role="{role}"' in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert user.email in r.text


async def test_clients_page_for_every_role(app_client: httpx.AsyncClient, conn: Conn) -> None:
    for role, heading in (("client", "My data"), ("trainer", "My clients"),
                          ("admin", "All clients")):
        user = await make_user(conn, role)
        r = await app_client.get("/clients", headers=await bearer_for(conn, user))
        assert r.status_code == 200
        assert f"<h1>{heading}</h1>" in r.text
        assert "/static/js/clients.js" in r.text


async def test_metric_page_access(app_client: httpx.AsyncClient, conn: Conn) -> None:
    trainer = await make_user(conn, "trainer")
    other = await make_user(conn, "trainer")
    mine = await make_user(conn, "client", display_name="Mia <b>")
    theirs = await make_user(conn, "client")
    await assign(conn, trainer.user_id, mine.user_id)
    await assign(conn, other.user_id, theirs.user_id)
    t = await bearer_for(conn, trainer)

    r = await app_client.get(f"/clients/{mine.user_id}/metrics/weight", headers=t)
    assert r.status_code == 200
    assert f'data-user-id="{mine.user_id}"' in r.text and 'data-metric="weight"' in r.text
    assert "Mia &lt;b&gt;" in r.text and "Mia <b>" not in r.text  # escaped
    # another trainer's client and a user that does not exist look the same: 404
    for path in (f"/clients/{theirs.user_id}/metrics/weight", "/clients/999999/metrics/weight",
                 "/clients/99999999999999999999/metrics/weight"):
        r = await app_client.get(path, headers=t)
        assert r.status_code == 404, path
        assert theirs.email not in r.text
    r = await app_client.get(f"/clients/{mine.user_id}/metrics/mood", headers=t)
    assert r.status_code == 404

    c = await bearer_for(conn, mine)
    assert (await app_client.get(f"/clients/{mine.user_id}/metrics/weight", headers=c)
            ).status_code == 200
    assert (await app_client.get(f"/clients/{theirs.user_id}/metrics/weight", headers=c)
            ).status_code == 404
    admin = await bearer_for(conn, await make_user(conn, "admin"))
    assert (await app_client.get(f"/clients/{theirs.user_id}/metrics/weight", headers=admin)
            ).status_code == 200


async def test_static_modules_are_served(app_client: httpx.AsyncClient) -> None:
    for name in ("admin.js", "clients.js", "metric.js", "charts.js", "api.js", "ui.js"):
        r = await app_client.get(f"/static/js/{name}")
        assert r.status_code == 200, name
        assert "javascript" in r.headers["content-type"]
    assert (await app_client.get("/static/app.css")).status_code == 200
    assert (await app_client.get("/static/../pages.py")).status_code == 404
    assert (await app_client.get("/static/%2e%2e/pages.py")).status_code == 404
