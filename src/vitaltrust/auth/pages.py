"""Server-rendered pages: the login page, the 403 page, and the guard for page routes.

Page routes (the `/admin` dashboard, the trainer view) use `require_page_user`:

    AdminPage = Annotated[Principal | Response, Depends(require_page_user("admin", "trainer"))]

    @router.get("/admin", include_in_schema=False, response_model=None)
    async def admin_page(page: AdminPage) -> Response:
        if isinstance(page, Response):  # anonymous -> /login?next=..., wrong role -> 403 page
            return page
        ...

API routes keep using CurrentUser/StaffUser/AdminUser (401/403 problem+json).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from string import Template
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from vitaltrust.auth.principal import OptionalUser, Principal

# Pages only load our own scripts and styles; nobody may frame them (clickjacking).
PAGE_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Each role's home: admins the system, trainers their clients, a client their own data.
LANDING = {"admin": "/admin", "trainer": "/clients", "client": "/clients"}  # client: "My data"
MAX_NEXT_CHARS = 512


def _template(name: str) -> Template:
    return Template((resources.files("vitaltrust.auth") / "templates" / name).read_text("utf-8"))


def render(template: str, *, title: str, script: str | None = None, **values: str) -> str:
    """`auth/templates/<template>` inside layout.html; every value is HTML-escaped."""
    body = _template(template).substitute({k: html.escape(v) for k, v in values.items()})
    head = f'<script src="/static/{html.escape(script)}" defer></script>' if script else ""
    return _template("layout.html").substitute(title=html.escape(title), head=head, body=body)


def html_page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def safe_next(value: str | None) -> str | None:
    """A same-site path to return to after login, or None (no open redirects)."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def landing_for(role: str, next_path: str | None) -> str:
    return safe_next(next_path) or LANDING.get(role, "/api/me")


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303,
                            headers={"Cache-Control": "no-store"})


def forbidden_page(principal: Principal) -> HTMLResponse:
    return html_page(render("forbidden.html", title="Not allowed", email=principal.email,
                            role=principal.role, home=LANDING.get(principal.role, "/api/me")),
                     status=403)


def _flatten(roles: Iterable[str | Iterable[str]]) -> frozenset[str]:
    out: set[str] = set()
    for r in roles:
        out.update([r] if isinstance(r, str) else r)
    return frozenset(out)


def require_page_user(*roles: str | Iterable[str]
                      ) -> Callable[..., Awaitable[Principal | Response]]:
    """Dependency for page routes: the Principal, or the response to send instead."""
    allowed = _flatten(roles)

    async def page_user(request: Request, principal: OptionalUser) -> Principal | Response:
        if principal is None:
            return login_redirect(request)
        if allowed and principal.role not in allowed:
            return forbidden_page(principal)
        return principal

    return page_user
