"""/docs without a CDN, and `X-Content-Type-Options: nosniff` on every kind of response."""

from __future__ import annotations

import re

import httpx

from tests.conftest import bearer_for, make_user
from vitaltrust.db import Conn


async def test_docs_page_loads_only_from_our_origin(app_client: httpx.AsyncClient) -> None:
    page = await app_client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert urls, page.text
    assert all(u.startswith("/") for u in urls), urls  # nothing from another host
    assert "cdn" not in page.text.lower()
    for url in urls:
        r = await app_client.get(url)
        assert r.status_code == 200, url
        assert r.headers["x-content-type-options"] == "nosniff", url
    script = await app_client.get("/static/swagger-ui-bundle.js")
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert len(script.content) > 100_000  # the real bundle, not a stub
    assert (await app_client.get("/docs/oauth2-redirect")).status_code == 200


async def test_nosniff_on_json_problem_html_and_static(app_client: httpx.AsyncClient,
                                                       conn: Conn) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    responses = [
        await app_client.get("/healthz"),                         # JSON
        await app_client.get("/api/me", headers=auth),            # JSON behind auth
        await app_client.get("/api/me"),                          # 401 problem+json
        await app_client.get("/no-such-page"),                    # 404 problem+json
        await app_client.get("/login"),                           # HTML
        await app_client.get("/openapi.json"),
        await app_client.get("/static/swagger-ui.css"),      # static
    ]
    kinds = {r.headers["content-type"].split(";")[0] for r in responses}
    assert {"application/json", "application/problem+json", "text/html", "text/css"} <= kinds
    for r in responses:
        assert r.headers.get("x-content-type-options") == "nosniff", (r.url, r.headers)
