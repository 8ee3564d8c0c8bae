"""Navigation and the operator console's pages: `/` (each role's home), the client overview
(/clients/{id}), jobs (/admin/jobs, /admin/jobs/{id}), deliveries (/admin/webhooks,
/admin/webhooks/{id}), the favicon and the HTML 404 page for browser paths. Shells only:
the ES modules fetch everything from the JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vitaltrust.auth.pages import LANDING, login_redirect, require_page_user
from vitaltrust.auth.principal import OptionalUser, Principal, ensure_can_see_user
from vitaltrust.errors import Problem
from vitaltrust.http import DbConn
from vitaltrust.web.pages import error_page, nav, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[Principal | Response, Depends(require_page_user("admin"))]
AnyPage = Annotated[Principal | Response, Depends(require_page_user("admin", "trainer", "client"))]
# Paths a program calls: they keep problem+json errors whatever the Accept header says.
API_PREFIXES = ("/api/", "/webhooks/", "/auth/", "/metrics", "/static/", "/openapi", "/docs")
CLIENT_NAME = "SELECT coalesce(display_name, email) AS name FROM users WHERE user_id = %s"
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1d2430"/>'
    '<path d="M6 17h5l3-8 4 15 3-7h5" fill="none" stroke="#4ade80" stroke-width="3" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>')


@router.get("/", response_model=None)
async def home(request: Request, principal: OptionalUser) -> Response:
    """Each role's home: admin /admin, trainer /clients, client their own data."""
    if principal is None:
        return login_redirect(request)
    return RedirectResponse(LANDING.get(principal.role, "/clients"), status_code=303,
                            headers={"Cache-Control": "no-store"})


@router.get("/favicon.ico", response_model=None)
async def favicon() -> Response:
    return Response(FAVICON, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/clients/{user_id}", response_model=None)
async def client_page(user_id: int, conn: DbConn, gate: AnyPage) -> Response:
    if isinstance(gate, Response):
        return gate
    try:
        await ensure_can_see_user(conn, gate, user_id)
    except Problem:
        return error_page(gate, 404, "Not found", "There is no such client in your list.")
    row = await (await conn.execute(CLIENT_NAME, (user_id,))).fetchone()
    name = str(row["name"]) if row else f"Client {user_id}"
    return render("client.html", title=name, principal=gate, script="client.js",
                  nav=nav(gate, "/clients"), main_data={"user-id": str(user_id),
                                                        "role": gate.role},
                  client_name=name)


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return (request.method == "GET" and "text/html" in accept
            and not request.url.path.startswith(API_PREFIXES))


async def browser_aware_http_error(request: Request, exc: Exception) -> Response:
    """A browser asking for a page that does not exist gets an HTML page; programs get
    problem+json as before."""
    from vitaltrust.errors import _on_http

    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (403, 404) and wants_html(request):
        from vitaltrust.auth.principal import optional_principal
        from vitaltrust.db import transaction

        principal: Principal | None
        try:
            async with transaction(request.app.state.pool) as conn:
                principal = await optional_principal(request, conn)
        except Exception:  # a broken cookie must not turn a 404 into a 500
            principal = None
        heading, message = (("Page not found", "There is no page at this address.")
                            if exc.status_code == 404 else
                            ("Not allowed", "Your account may not open this page."))
        if principal is None:
            return _plain_error_page(exc.status_code, heading, message)
        return error_page(principal, exc.status_code, heading, message)
    response: JSONResponse = await _on_http(request, exc)
    return response


def _plain_error_page(status: int, heading: str, message: str) -> Response:
    """For a visitor who is not signed in (heading and message are our own constants)."""
    from vitaltrust.auth.pages import html_page

    return html_page(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{heading} · vitaltrust</title>"
        '<link rel="icon" href="/favicon.ico" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/base.css"></head><body>'
        f'<main class="vt-narrow"><h1>{heading}</h1><p>{message}</p>'
        '<p><a href="/login">Sign in</a></p></main></body></html>', status)


@router.get("/admin/jobs", response_model=None)
async def jobs_page(gate: AdminPage) -> Response:
    if isinstance(gate, Response):  # anonymous -> /login?next=..., others -> 403 page
        return gate
    return render("jobs.html", title="Jobs", principal=gate, script="jobs.js",
                  nav=nav(gate, "/admin/jobs"))


@router.get("/admin/jobs/{job_id}", response_model=None)
async def job_page(job_id: int, gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("job.html", title=f"Job #{job_id}", principal=gate, script="job.js",
                  nav=nav(gate, "/admin/jobs"), main_data={"job-id": str(job_id)},
                  job_id=str(job_id))


@router.get("/admin/webhooks", response_model=None)
async def webhooks_page(gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("webhooks.html", title="Deliveries", principal=gate, script="webhooks.js",
                  nav=nav(gate, "/admin/webhooks"))


@router.get("/admin/webhooks/{event_id}", response_model=None)
async def webhook_page(event_id: int, gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("webhook.html", title=f"Delivery #{event_id}", principal=gate,
                  script="webhook.js", nav=nav(gate, "/admin/webhooks"),
                  main_data={"event-id": str(event_id)}, event_id=str(event_id))
