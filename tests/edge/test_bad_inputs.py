"""Inputs a client can send that once gave 500: each is now a 4xx problem+json with
`nosniff`, and nothing is stored for it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.auth.helpers import PASSWORD, login_ok
from tests.conftest import bearer_for, make_user
from tests.edge.support import assert_problem, standard_webhook, stored_rows
from tests.ingest.support import native_body, standard_headers
from vitaltrust.db import Conn
from vitaltrust.edge import MAX_JSON_DEPTH, json_depth_ok, loads_checked
from vitaltrust.errors import Problem


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_json(text: str) -> bytes:
    """The text as sent: escapes like \\ud800 stay escapes (json.dumps would too)."""
    return text.encode()


# --- pure checks (no database) -----------------------------------------------------------

@pytest.mark.parametrize("depth, ok", [(1, True), (MAX_JSON_DEPTH, True),
                                       (MAX_JSON_DEPTH + 1, False), (100_000, False)])
def test_depth_limit_is_exact(depth: int, ok: bool) -> None:
    body = ('{"a": ' * depth + "1" + "}" * depth).encode()
    assert json_depth_ok(body) is ok
    if ok:
        assert loads_checked(body) is not None
    else:
        with pytest.raises(Problem) as caught:
            loads_checked(body)
        assert caught.value.status == 400


def test_brackets_inside_strings_do_not_count_and_unbalanced_is_refused() -> None:
    assert json_depth_ok(json.dumps({"s": "[" * 500, "t": "\\\"]" * 300}).encode())
    assert not json_depth_ok(b"[" * 200)
    assert not json_depth_ok(b"[" * 70 + b"}" * 70)


@pytest.mark.parametrize("text", [r'{"a": "\u0000"}', r'{"a\u0000": 1}', r'{"a": ["x", "\ud800"]}',
                                  r'{"a": "\udfff"}', r'{"a": "\uDC00x"}', '{"a": NaN}',
                                  '{"a": Infinity}', '{"a": -1e400}', '{"a": 1' + "0" * 400 + "}"])
def test_unstorable_json_is_refused(text: str) -> None:
    with pytest.raises(Problem) as caught:
        loads_checked(text.encode())
    assert caught.value.status == 400


@pytest.mark.parametrize("text", [r'{"a": "\ud83d\ude00"}', r'{"a": "\\u0000"}', '{"a": 1e300}',
                                  '{"a": "caf\u00e9"}'])
def test_storable_json_passes(text: str) -> None:
    loads_checked(text.encode())


# --- over HTTP ----------------------------------------------------------------------------

LOGIN_JSON_BODIES: list[dict[str, Any]] = [
    {"email": "\u0000", "password": "x"},
    {"email": "weight\u0000", "password": "x"},
    {"email": "a@b.c", "password": "\ud800"},
    {"email": "\udfff@b.c", "password": "x"},
]


async def test_bad_logins_are_refused_before_anything_is_stored(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    before = await stored_rows(conn)
    for body in LOGIN_JSON_BODIES:
        r = await app_client.post("/auth/login", content=json.dumps(body).encode(),
                                  headers={"content-type": "application/json"})
        assert_problem(r, 400)
    forms = [b"email=%00&password=x", b"email=a%40b.c&password=%ED%A0%80",
             f"email={user.email}&password={PASSWORD.replace(' ', '+')}&next=/admin%00".encode()]
    for form in forms:
        r = await app_client.post("/auth/login", content=form,
                                  headers={"content-type": "application/x-www-form-urlencoded"})
        assert_problem(r, 400)
    # valid credentials, a NUL in next: refused before the session is created
    r = await app_client.post("/auth/login", content=json.dumps(
        {"email": user.email, "password": PASSWORD, "next": "/admin\u0000"}).encode(),
        headers={"content-type": "application/json"})
    assert_problem(r, 400)
    r = await app_client.post("/auth/login", content=nested(5000).encode(),
                              headers={"content-type": "application/json"})
    assert_problem(r, 400)
    r = await app_client.post("/auth/login?next=%00", json={"email": user.email, "password": PASSWORD})
    assert_problem(r, 400)
    assert await stored_rows(conn) == before
    assert "set-cookie" not in r.headers


async def test_bad_webhook_paths_and_signed_bodies(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    hook = await standard_webhook(conn, user.email)
    before = await stored_rows(conn)
    for path in ("/webhooks/std%00", "/webhooks/%00", f"/webhooks/{hook.name}%00"):
        body = native_body()
        assert_problem(await app_client.post(path, content=body,
                                             headers=standard_headers(hook.secret, body)), 400)
    sample = json.loads(native_body())["samples"][0]
    bodies = [
        nested(5000), nested(100_000), '{"type": "samples", "user": "\\ud800", "samples": []}',
        '{"type": "\\udfff", "user": "ext-1", "samples": []}',
        '{"type": "sam\\u0000ples", "user": "ext-1", "samples": []}',
        json.dumps({"type": "samples", "user": "ext-1",
                    "samples": [{**sample, "device": {"type": "scale", "model": "X"}}]}
                   ).replace('"X"', '"\\udc80"'),
        json.dumps({"type": "samples", "user": "ext-1", "samples": [{**sample, "id": "Q"}]}
                   ).replace('"Q"', '"\\ud800\\u0000"'),
        json.dumps({"type": "samples", "user": "ext-1", "samples": [{**sample, "value": 1}]}
                   ).replace('"value": 1', '"value": NaN'),
        json.dumps({"type": "samples", "user": "ext-1", "samples": [{**sample, "value": 1}]}
                   ).replace('"value": 1', '"value": 1e999'),
    ]
    for text in bodies:
        body = raw_json(text)
        r = await app_client.post(f"/webhooks/{hook.name}", content=body,
                                  headers=standard_headers(hook.secret, body))
        assert_problem(r, 400)
    # the signature comes first: an unsigned bad body is a 401, not a 400
    r = await app_client.post(f"/webhooks/{hook.name}", content=raw_json(bodies[2]),
                              headers={"content-type": "application/json"})
    assert_problem(r, 401)
    assert await stored_rows(conn) == before
    # and the same route still takes a good delivery
    body = native_body()
    r = await app_client.post(f"/webhooks/{hook.name}", content=body,
                              headers=standard_headers(hook.secret, body))
    assert r.status_code == 202, r.text
    assert r.headers["x-content-type-options"] == "nosniff"


SAMPLE_BODIES: list[tuple[str, int]] = [
    ('{"metric": "weight", "value": 80, "measured_at": "2026-01-01T08:00:00", '
     '"utc_offset_seconds": 86400}', 422),
    ('{"metric": "weight", "value": 80, "measured_at": "2026-01-01T08:00:00", '
     '"utc_offset_seconds": 1e9}', 422),
    ('{"metric": "weight", "value": 80, "measured_at": "9999-12-31T23:59:00", '
     '"utc_offset_seconds": -50000}', 422),
    ('{"metric": "weight", "value": 80, "measured_at": "0001-01-01T00:00:00", '
     '"utc_offset_seconds": 50000}', 422),
    ('{"metric": "weight", "value": 80, "measured_at": "0001-01-01T00:00:00+13:00"}', 422),
    ('{"metric": "weight", "value": 80, "measured_at": "9999-12-31T23:59:00-13:00"}', 422),
    ('{"metric": "weight\\u0000", "value": 80}', 400),
    ('{"metric": "weight", "value": 80, "unit": "\\ud800"}', 400),
    ('{"metric": "weight", "value": 1e999}', 400),
    ('{"metric": "weight", "value": NaN}', 400),
    (nested(5000), 400),
]


async def test_bad_manual_samples_and_tokens(app_client: httpx.AsyncClient, conn: Conn) -> None:
    user = await make_user(conn, "client")
    auth = await bearer_for(conn, user)
    before = await stored_rows(conn)
    for text, status in SAMPLE_BODIES:
        r = await app_client.post("/api/me/samples", content=raw_json(text),
                                  headers={**auth, "content-type": "application/json"})
        assert_problem(r, status)
    for text in ('{"name": "\\u0000"}', '{"name": "ci\\u0000"}', '{"name": "\\ud800"}'):
        r = await app_client.post("/auth/tokens", content=raw_json(text),
                                  headers={**auth, "content-type": "application/json"})
        assert_problem(r, 400)
    # no content type at all: FastAPI would still parse it as JSON, so the edge does too
    r = await app_client.post("/auth/tokens", content=raw_json('{"name": "\\u0000"}'), headers=auth)
    assert_problem(r, 400)
    assert await stored_rows(conn) == before


async def test_bad_paths_queries_and_headers_on_pages_and_api(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    trainer = await make_user(conn, "trainer")
    await login_ok(app_client, trainer.email)
    before = await stored_rows(conn)
    for url in ("/clients/4/metrics/weight%00", "/api/users/4/metrics/weight%00/samples",
                "/api/me/metrics?sparkline=%00", "/api/me/metrics?x%00=1", "/%00"):
        assert_problem(await app_client.get(url), 400)
    assert_problem(await app_client.get("/api/me", headers={"x-note": "a\x00b"}), 400)
    assert await stored_rows(conn) == before
    ok = await app_client.get("/api/me")
    assert ok.status_code == 200 and ok.headers["x-content-type-options"] == "nosniff"


async def test_a_huge_body_is_413_without_buffering_it_all(app_client: httpx.AsyncClient) -> None:
    limit = app_client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    r = await app_client.post("/auth/tokens", content=b"{" + b" " * limit + b"}",
                              headers={"content-type": "application/json"})
    assert_problem(r, 413)
