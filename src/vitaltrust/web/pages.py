"""Browser pages: /admin (pipeline dashboard), /clients and /clients/{id}/metrics/{metric}.

The server renders a small HTML shell (who is signed in, which page); the ES modules in
static/js fetch every number from the JSON API, so no query belongs only to a page.
Anonymous visitors are sent to /login?next=..., a wrong role gets a 403 page, a client
out of reach a 404 page (its existence is not revealed).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from vitaltrust.auth.pages import PAGE_HEADERS, require_page_user
from vitaltrust.auth.principal import Principal, ensure_can_see_user
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn
from vitaltrust.metrics.clients_api import router as clients_api_router

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STAFF = frozenset({"admin", "trainer"})

METRIC_INFO = """
SELECT m.metric, m.display_name, m.canonical_unit, m.default_priority,
       u.email, coalesce(u.display_name, u.email) AS client_name
FROM metric_catalog m, users u
WHERE m.metric = %s AND u.user_id = %s
"""

router = APIRouter(include_in_schema=False)
router.include_router(clients_api_router, include_in_schema=True)


@lru_cache(maxsize=32)
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


# base.css is shared with the login page; app.css is the dashboards' own. Both are served
# by the one /static mount (auth/routes.py, vitaltrust.web.static_files).
STYLESHEETS = ('<link rel="stylesheet" href="/static/base.css">\n'
               '<link rel="stylesheet" href="/static/app.css">')


def nav(principal: Principal, current: str) -> str:
    if principal.is_admin:
        links = [("/admin", "Dashboard"), ("/admin/jobs", "Jobs"),
                 ("/admin/webhooks", "Deliveries"), ("/admin/alerts", "Alerts"),
                 ("/clients", "Clients")]
    elif principal.role in STAFF:
        links = [("/clients", "Clients"), ("/admin", "Data quality")]
    else:
        links = [("/clients", "My data")]
    current_attr = ' aria-current="page"'
    return "".join(f'<a href="{href}"{current_attr if href == current else ""}>{label}</a>'
                   for href, label in links)


def render(template: str, *, title: str, principal: Principal, script: str | None,
           nav: str = "", status: int = 200, main_data: dict[str, str] | None = None,
           **values: str) -> HTMLResponse:
    """Every value is HTML-escaped here; templates hold no other dynamic text."""
    body = _template(template).substitute({k: escape(v) for k, v in values.items()})
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in (main_data or {}).items())
    script_tag = (f'<script type="module" src="/static/js/{escape(script)}"></script>'
                  if script else "")
    html = _template("layout.html").substitute(
        title=escape(title), styles=STYLESHEETS, body=body, nav=nav, main_attrs=attrs, script=script_tag,
        role=escape(principal.role), email=escape(principal.email))
    # the login page's headers: our own scripts and styles only, never framed, not cached
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(principal: Principal, status: int, heading: str, message: str) -> HTMLResponse:
    return render("error.html", title=heading, principal=principal, script="shell.js",
                  nav=nav(principal, ""), status=status, heading=heading, message=message)


StaffPage = Annotated[Principal | Response, Depends(require_page_user("admin", "trainer"))]
AnyPage = Annotated[Principal | Response, Depends(require_page_user("admin", "trainer", "client"))]


@router.get("/admin", response_model=None)
async def admin_page(gate: StaffPage) -> Response:
    if isinstance(gate, Response):  # anonymous -> /login?next=..., a client -> 403 page
        return gate
    scope = ("the whole system" if gate.is_admin else "your clients")
    return render("admin.html", title="Dashboard", principal=gate, script="admin.js",
                  nav=nav(gate, "/admin"), main_data={"role": gate.role}, scope=scope)


@router.get("/clients", response_model=None)
async def clients_page(gate: AnyPage) -> Response:
    if isinstance(gate, Response):
        return gate
    heading = "My data" if gate.role == "client" else (
        "All clients" if gate.is_admin else "My clients")
    return render("clients.html", title=heading, principal=gate, script="clients.js",
                  nav=nav(gate, "/clients"), main_data={"role": gate.role}, heading=heading)


@router.get("/clients/{user_id}/metrics/{metric}", response_model=None)
async def metric_page(user_id: int, metric: str, conn: DbConn, gate: AnyPage) -> Response:
    if isinstance(gate, Response):
        return gate
    try:
        await ensure_can_see_user(conn, gate, user_id)
    except Problem:
        return error_page(gate, 404, "Not found", "There is no such client in your list.")
    row = await (await conn.execute(METRIC_INFO, (metric, user_id))).fetchone()
    if row is None:
        return error_page(gate, 404, "Not found", "There is no such metric.")
    return render(
        "metric.html", title=f"{row['display_name']} · {row['client_name']}", principal=gate,
        script="metric.js", nav=nav(gate, ""),
        main_data={"user-id": str(user_id), "metric": row["metric"], "role": gate.role,
                   "unit": row["canonical_unit"],
                   "default-priority": ",".join(row["default_priority"])},
        client_name=row["client_name"], metric_name=row["display_name"])
