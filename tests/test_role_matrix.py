"""Every route of the app against anonymous, a client, that client's trainer, a trainer of
another client, and an admin. A route without an expectation here fails the test, so each
new endpoint must be added (with the answer each role should get, per DESIGN.md's roles).

Also checked for every call: no response carries data of a client the caller may not see;
API errors are problem+json; anonymous page requests go to /login?next=...; and every
state-changing route refuses a cookie session that does not send its CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import make_user
from vitaltrust.auth.sessions import create_session
from vitaltrust.auth.tokens import issue_api_token
from vitaltrust.config import Settings
from vitaltrust.db import Conn, create_pool
from vitaltrust.ingest.sources import create_source
from vitaltrust.metrics.store import store_samples
from vitaltrust.metrics.types import RawSample

PERSONAS = ("anonymous", "other_trainer", "trainer", "admin", "client")  # client last: it
# revokes its own token in DELETE /auth/tokens/{token_id}
Expect = dict[str, int]


def everyone(status: int) -> Expect:
    return dict.fromkeys(PERSONAS, status)


def signed_in(status: int) -> Expect:
    return {**everyone(status), "anonymous": 401}


def staff(status: int = 200) -> Expect:
    return {"anonymous": 401, "client": 403, "trainer": status, "other_trainer": status,
            "admin": status}


def admin_only(status: int = 200) -> Expect:
    return {"anonymous": 401, "client": 403, "trainer": 403, "other_trainer": 403,
            "admin": status}


def own_client(status: int = 200) -> Expect:
    """The target client's data: the client, their trainer, admins; anyone else a 404."""
    return {"anonymous": 401, "client": status, "trainer": status, "other_trainer": 404,
            "admin": status}


def page(client: int = 200, staff_status: int = 200, other_trainer: int | None = None) -> Expect:
    """Pages: anonymous is sent to /login (303); a wrong role gets a 403 page."""
    return {"anonymous": 303, "client": client, "trainer": staff_status,
            "other_trainer": staff_status if other_trainer is None else other_trainer,
            "admin": staff_status}


EXPECTED: dict[tuple[str, str], Expect] = {
    # public: docs, health, login page, static assets
    ("GET", "/openapi.json"): everyone(200),
    ("GET", "/docs"): everyone(200),
    ("GET", "/docs/oauth2-redirect"): everyone(200),
    ("GET", "/healthz"): everyone(200),
    ("GET", "/readyz"): everyone(200),
    ("GET", "/login"): everyone(200),
    ("GET", "/static/{path}"): everyone(200),
    # webhooks: the signature is the authentication, whoever else is calling
    ("POST", "/webhooks/{source}"): everyone(401),
    # Garmin's token URL exists for garmin sources only; the matrix source is a standard
    # one (garmin's 401s for a wrong token or client id: tests/ingest/test_source_auth.py)
    ("POST", "/webhooks/{source}/{token}"): everyone(404),
    # auth
    ("POST", "/auth/login"): everyone(401),  # wrong password, whoever is calling
    ("POST", "/auth/logout"): everyone(204),  # idempotent; bearer callers have no session
    ("POST", "/auth/tokens"): signed_in(201),
    ("GET", "/auth/tokens"): signed_in(200),
    ("DELETE", "/auth/tokens/{token_id}"): {**signed_in(404), "client": 204},  # the client's
    ("GET", "/api/me"): signed_in(200),
    # per-user data
    ("GET", "/api/me/metrics"): signed_in(200),
    ("POST", "/api/me/samples"): signed_in(201),
    ("GET", "/api/clients"): signed_in(200),
    ("GET", "/api/users/{user_id}/metrics"): own_client(),
    ("GET", "/api/users/{user_id}/metrics/{metric}/samples"): own_client(),
    ("GET", "/api/users/{user_id}/metrics/{metric}/confidence"): own_client(),
    ("GET", "/api/users/{user_id}/metrics/{metric}/priority"): own_client(),
    ("GET", "/api/users/{user_id}/ingestion"): own_client(),
    ("PUT", "/api/users/{user_id}/metrics/{metric}/priority"): own_client(),
    # monitoring: admins see system internals; trainers their clients' data quality only
    ("GET", "/api/admin/monitoring"): staff(),
    ("GET", "/api/admin/job-stats"): admin_only(),
    ("GET", "/api/admin/function-performance"): admin_only(),
    ("GET", "/api/admin/webhook-stats"): admin_only(),
    ("GET", "/api/admin/quality-trends"): staff(),
    ("POST", "/api/admin/jobs/retry-failed"): admin_only(),
    ("GET", "/api/admin/jobs"): admin_only(),
    ("GET", "/api/admin/jobs/{job_id}"): admin_only(404),  # the matrix's job id does not exist
    ("POST", "/api/admin/jobs/retry"): admin_only(),
    ("POST", "/api/admin/jobs/discard"): admin_only(),
    ("GET", "/api/admin/throughput"): admin_only(),
    ("GET", "/api/admin/webhook-events"): admin_only(),
    ("GET", "/api/admin/webhook-events/summary"): admin_only(),
    ("GET", "/api/admin/webhook-events/unmatched-accounts"): admin_only(),
    ("POST", "/api/admin/webhook-events/link-account"): admin_only(404),  # no such account's user
    ("GET", "/api/admin/webhook-events/{event_id}"): admin_only(404),
    ("POST", "/api/admin/webhook-events/{event_id}/reprocess"): admin_only(404),
    ("POST", "/api/admin/confidence/recalculate"): {**own_client(), "client": 403},
    ("GET", "/metrics"): admin_only(),  # or the VITALTRUST_METRICS_TOKEN bearer
    # self-test: the target client is no sandbox, so even an admin gets 404 there
    ("POST", "/api/admin/selftest"): admin_only(),
    ("POST", "/api/admin/selftest/sandbox"): admin_only(201),
    ("GET", "/api/admin/selftest/sandbox/{user_id}"): admin_only(404),
    # webhook sources (admins only; disable runs before enable, so the source ends enabled)
    ("GET", "/api/admin/sources"): admin_only(),
    ("POST", "/api/admin/sources"): admin_only(201),
    ("POST", "/api/admin/sources/{source}/rotate-secret"): admin_only(),
    ("POST", "/api/admin/sources/{source}/disable"): admin_only(),
    ("POST", "/api/admin/sources/{source}/enable"): admin_only(),
    ("DELETE", "/api/admin/selftest/sandbox/{user_id}"): admin_only(404),
    # alerts and outbound events: admins only (secrets, targets of our outbound traffic)
    ("GET", "/api/admin/alerts"): admin_only(),
    ("GET", "/api/admin/alerts/destinations"): admin_only(),
    ("POST", "/api/admin/alerts/destinations"): admin_only(422),  # the matrix body: ftp://
    ("DELETE", "/api/admin/alerts/destinations/{name}"): admin_only(404),
    ("POST", "/api/admin/alerts/destinations/{name}/test"): admin_only(404),
    ("GET", "/api/admin/alerts/destinations/{name}/deliveries"): admin_only(404),
    ("GET", "/api/admin/events/subscriptions"): admin_only(),
    ("POST", "/api/admin/events/subscriptions"): admin_only(422),
    ("DELETE", "/api/admin/events/subscriptions/{name}"): admin_only(404),
    ("GET", "/api/admin/events/subscriptions/{name}/deliveries"): admin_only(404),
    ("POST", "/api/admin/events/{event}/replay"): admin_only(404),
    # pages
    ("GET", "/admin/alerts"): {**page(client=403, staff_status=403), "admin": 200},
    ("GET", "/admin"): page(client=403),
    ("GET", "/clients"): page(),
    ("GET", "/clients/{user_id}/metrics/{metric}"): page(other_trainer=404),
    ("GET", "/admin/jobs"): page(client=403, staff_status=200) | {"trainer": 403, "other_trainer": 403},
    ("GET", "/admin/jobs/{job_id}"): page(client=403) | {"trainer": 403, "other_trainer": 403},
    ("GET", "/"): {**everyone(303)},  # each role to its home (checked in _problems)
    ("GET", "/favicon.ico"): everyone(200),
    ("GET", "/clients/{user_id}"): page(other_trainer=404),
    ("GET", "/admin/webhooks"): page(client=403) | {"trainer": 403, "other_trainer": 403},
    ("GET", "/admin/webhooks/{event_id}"): page(client=403) | {"trainer": 403, "other_trainer": 403},
}

# Routes a cookie session reaches without a CSRF token: not authenticated by the cookie.
CSRF_EXEMPT = {("POST", "/auth/login"), ("POST", "/webhooks/{source}"),
               ("POST", "/webhooks/{source}/{token}")}
PAGES = {key for key, expect in EXPECTED.items() if expect["anonymous"] == 303}
HOMES = {"anonymous": "/login?next=/", "client": "/clients", "trainer": "/clients",
         "other_trainer": "/clients", "admin": "/admin"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Each client's latest weight: a value only its own readers may ever see.
LATEST = {"Target Client Quince": "71.25", "Other Client Zephyr": "93.75"}
# Positive controls, so that the leak check is not vacuous: these readers do see the data.
MUST_SEE = {
    (("GET", "/api/clients"), "admin"): ["Target Client Quince", "Other Client Zephyr"],
    (("GET", "/api/clients"), "trainer"): ["Target Client Quince", "71.25"],
    (("GET", "/api/clients"), "other_trainer"): ["Other Client Zephyr", "93.75"],
    (("GET", "/api/users/{user_id}/metrics"), "client"): ["71.25"],
    (("GET", "/api/users/{user_id}/metrics/{metric}/samples"), "trainer"): ["71.25"],
}


@dataclass
class World:
    users: dict[str, Any]  # persona -> User
    other_client: Any
    headers: dict[str, dict[str, str]]
    params: dict[str, str]
    admin_session: tuple[str, str]  # (cookie, csrf)

    def forbidden_strings(self, persona: str) -> list[str]:
        """What this persona must never see: clients outside its reach."""
        target, other = self.users["client"], self.other_client
        out = {
            "anonymous": [target, other], "client": [other], "trainer": [other],
            "other_trainer": [target], "admin": [],
        }[persona]
        return [s for u in out for s in (u.email, u.display_name, LATEST[u.display_name])]


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route, mounts included (as GET)."""
    from fastapi import routing

    walk: Callable[[Any], Any] = getattr(routing, "iter_route_contexts", lambda routes: routes)
    found: set[tuple[str, str]] = set()
    for route in walk(app.routes):
        path = getattr(route, "path_format", None) or getattr(route, "path", "")
        methods = getattr(route, "methods", None) or {"GET"}  # a Mount serves GET
        found.update((m, path) for m in methods if m not in ("HEAD", "OPTIONS"))
    return found


def test_every_route_has_an_expectation() -> None:
    from vitaltrust.app import create_app

    routes = app_routes(create_app(Settings(database_url="postgresql://unused/none")))
    missing = sorted(routes - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - routes)
    assert not missing, f"routes without a role expectation in {__name__}: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


async def _world(conn: Conn, settings: Settings, db_url: str) -> World:
    users = {
        "admin": await make_user(conn, "admin", display_name="Matrix Admin"),
        "trainer": await make_user(conn, "trainer", display_name="Trainer Of Target"),
        "other_trainer": await make_user(conn, "trainer", display_name="Trainer Of Other"),
        "client": await make_user(conn, "client", display_name="Target Client Quince"),
    }
    other = await make_user(conn, "client", display_name="Other Client Zephyr")
    for trainer, client in (("trainer", users["client"]), ("other_trainer", other)):
        await conn.execute("INSERT INTO trainer_clients (client_id, trainer_id) VALUES (%s, %s)",
                           (client.user_id, users[trainer].user_id))
    now = datetime.now(UTC)
    for client in (users["client"], other):
        value = float(LATEST[client.display_name])
        await store_samples(conn, user_id=client.user_id, source_id=1, webhook_event_id=None,
                            samples=[RawSample(str(client.user_id), "weight", value - d / 10, "kg",
                                               now - timedelta(days=d), device_type="scale")
                                     for d in range(3)])
    try:  # fill the confidence cache, so summaries carry real data for the leak check
        from vitaltrust.queue.worker import run_until_idle

        pool = create_pool(db_url, settings)
        await pool.open()
        try:
            await run_until_idle(pool, settings, timeout=30)
        finally:
            await pool.close()
    except ImportError:
        pass
    headers = {"anonymous": {}}
    for persona, user in users.items():
        _, token = await issue_api_token(conn, user.user_id, "matrix")
        headers[persona] = {"Authorization": f"Bearer {token}"}
    victim_id, _ = await issue_api_token(conn, users["client"].user_id, "victim")
    await create_source(conn, "matrix", "standard")
    session = await create_session(conn, settings, users["admin"].user_id, "matrix")
    return World(users, other, headers, {
        "user_id": str(users["client"].user_id), "metric": "weight",
        "token_id": str(victim_id), "source": "matrix", "path": "base.css",
        "job_id": "999999999", "event_id": "999999999",
        "token": "not-a-garmin-token",
        "name": "no-such-destination", "event": "msg_missing",
    }, (session.token, session.csrf_token))


BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/auth/login"): {"email": "nobody@example.test", "password": "wrong"},
    ("POST", "/auth/tokens"): {"name": "matrix"},
    ("POST", "/api/me/samples"): {"metric": "weight", "value": 80.5, "unit": "kg"},
    ("PUT", "/api/users/{user_id}/metrics/{metric}/priority"): {"priority": ["scale", "manual"]},
    ("POST", "/api/admin/jobs/retry-failed"): {},
    ("POST", "/api/admin/jobs/retry"): {"ids": [999999999]},
    ("POST", "/api/admin/jobs/discard"): {"ids": [999999999]},
    ("POST", "/api/admin/webhook-events/link-account"): {
        "source": "matrix", "external_user_id": "ext-matrix", "email": "nobody@example.test"},
    ("POST", "/webhooks/{source}"): {"type": "samples", "user": "x", "samples": []},
    ("POST", "/api/admin/selftest"): {"checks": ["rate-limiting"]},  # needs no worker
    ("POST", "/api/admin/sources"): {"name": "matrix-terra", "kind": "terra"},
    ("POST", "/api/admin/sources/{source}/rotate-secret"): {"overlap": "1h"},
    ("POST", "/webhooks/{source}/{token}"): {"dailies": []},
    ("POST", "/api/admin/alerts/destinations"): {"name": "matrix", "kind": "webhook",
                                                 "target": "ftp://example.com/"},
    ("POST", "/api/admin/events/subscriptions"): {"name": "matrix", "url": "https://x.example/",
                                                  "event_types": ["no.such.type"]},
}


def _body(key: tuple[str, str], world: World) -> Any:
    if key == ("POST", "/api/admin/confidence/recalculate"):
        return {"user_id": world.users["client"].user_id}
    return BODIES.get(key)


async def _call(client: httpx.AsyncClient, key: tuple[str, str], world: World,
                headers: dict[str, str]) -> httpx.Response:
    method, template = key
    url = template.format(**world.params)
    body = _body(key, world)
    content = json.dumps(body).encode() if body is not None else None
    return await client.request(method, url, content=content, headers={
        **headers, **({"content-type": "application/json"} if content is not None else {})})


def _problems(key: tuple[str, str], persona: str, r: httpx.Response, world: World) -> list[str]:
    out = []
    for secret in world.forbidden_strings(persona):
        if secret and secret in r.text:
            out.append(f"{key} as {persona}: response mentions {secret!r}")
    if r.status_code >= 400 and key not in PAGES and \
            r.headers.get("content-type") != "application/problem+json":
        out.append(f"{key} as {persona}: {r.status_code} is not problem+json")
    if key == ("GET", "/"):
        if r.headers.get("location") != HOMES[persona]:
            out.append(f"/ as {persona}: sent to {r.headers.get('location')}, not {HOMES[persona]}")
    elif r.status_code == 303 and not r.headers.get("location", "").startswith("/login?next="):
        out.append(f"{key} as {persona}: redirect to {r.headers.get('location')}")
    return out


async def test_role_matrix(app_client: httpx.AsyncClient, conn: Conn, settings: Settings,
                           db_url: str) -> None:
    world = await _world(conn, settings, db_url)
    routes = app_routes(app_client.app)  # type: ignore[attr-defined]
    assert not routes - EXPECTED.keys(), "see test_every_route_has_an_expectation"
    failures: list[str] = []
    for persona in PERSONAS:
        for key in sorted(routes):
            app_client.cookies.clear()
            r = await _call(app_client, key, world, world.headers[persona])
            want = EXPECTED[key][persona]
            if r.status_code != want:
                failures.append(f"{key} as {persona}: got {r.status_code}, expected {want}:"
                                f" {r.text[:160]}")
            failures.extend(_problems(key, persona, r, world))
            failures.extend(f"{key} as {persona}: expected to see {text!r}"
                            for text in MUST_SEE.get((key, persona), []) if text not in r.text)
    assert not failures, "\n".join(failures)


async def test_state_changes_by_cookie_need_the_csrf_token(app_client: httpx.AsyncClient,
                                                           conn: Conn, settings: Settings,
                                                           db_url: str) -> None:
    world = await _world(conn, settings, db_url)
    cookie, csrf = world.admin_session
    routes = app_routes(app_client.app)  # type: ignore[attr-defined]
    failures = []
    for key in sorted(k for k in routes if k[0] in UNSAFE and k not in CSRF_EXEMPT):
        app_client.cookies.clear()
        app_client.cookies.set("vt_session", cookie)
        r = await _call(app_client, key, world, {})
        if r.status_code != 403 or "CSRF" not in r.text:
            failures.append(f"{key}: admin cookie without X-CSRF-Token got {r.status_code}")
    assert not failures, "\n".join(failures)
    # the same session with its token is let through (a read and a write)
    app_client.cookies.set("vt_session", cookie)
    r = await app_client.post("/auth/tokens", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
