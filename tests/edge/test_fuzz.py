"""Hypothesis against the routes a client or provider can reach with a body: a signed
webhook (signed with the `standardwebhooks` package), login, POST /auth/tokens and
POST /api/me/samples. Bodies, paths, headers and content types carry NUL, lone
surrogates, deep nesting, huge and non-finite numbers and odd dates. No answer may be a
5xx, and a refused request (4xx) stores nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from tests.conftest import bearer_for, make_user
from tests.edge.support import stored_rows
from tests.ingest.support import make_source
from vitaltrust.app import create_app
from vitaltrust.config import Settings
from vitaltrust.db import connect
from vitaltrust.ingest.sources import link_account

FUZZ = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# a rejected login is counted against the e-mail and address by design (throttling)
LOGIN_BOOKKEEPING = frozenset({"login_throttle", "audit_log"})

SPECIAL = ["\x00", "\ud800", "\udfff", "\udc80", "\ud83d\ude00", "\ufffd", "\u202e", "'", '"', "\\",
           "%00", "%ED%A0%80", "\n", "é"]
texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.lists(st.sampled_from(SPECIAL), min_size=1, max_size=4).map("".join),
    st.sampled_from(["weight", "kg", "scale", "ext-1", "", "9999-12-31T23:59:59+14:00",
                     "0001-01-01T00:00:00", "2026-02-30T00:00:00Z", "1969-12-31T23:59:59Z",
                     "2026-11-28T07:02:00", "now", "-1"]),
)
numbers = st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**320),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([86400, -86400, 50400, 1e9, 1e308, -1e308, 0]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)), max_leaves=12)


class Nested:
    """`value` inside `depth` arrays, written out without recursion (nor a deep repr)."""

    def __init__(self, value: Any, depth: int) -> None:
        self.value, self.depth = value, depth

    def __repr__(self) -> str:
        return f"Nested({self.value!r}, depth={self.depth})"

    def dumps(self) -> str:
        inner = json.dumps(self.value, ensure_ascii=True, allow_nan=True)
        return "[" * self.depth + inner + "]" * self.depth


SAMPLE_KEYS = ["metric", "value", "unit", "measured_at", "utc_offset_seconds", "id", "device"]
shaped = st.fixed_dictionaries({}, optional={k: values for k in SAMPLE_KEYS})
bodies = st.one_of(
    shaped,
    st.fixed_dictionaries({"type": values, "user": values,
                           "samples": st.lists(shaped, max_size=3)}),
    st.fixed_dictionaries({"email": values, "password": values, "next": values, "name": values}),
    values,
    st.builds(Nested, values, st.integers(min_value=30, max_value=3000)),
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8",
                                 "application/x-www-form-urlencoded", "text/plain", "",
                                 "application/vnd.api+json", "multipart/form-data; boundary=x",
                                 "application/json\x00"])
header_values = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=20)


def _form_part(value: Any) -> str:
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def encode(body: Any, content_type: str) -> bytes:
    if isinstance(body, Nested):
        return body.dumps().encode()
    if content_type.startswith("application/x-www-form-urlencoded") and isinstance(body, dict):
        return "&".join(f"{_form_part(k)}={_form_part(v)}" for k, v in body.items()).encode()
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()


def test_fuzz_edge_routes_never_5xx_and_refusals_store_nothing(
        db_url: str, tmp_path: Path) -> None:
    asyncio_runner = asyncio.Runner()
    world: dict[str, Any] = {}
    app = create_app(Settings(database_url=db_url, data_dir=tmp_path / "data",
                              alert_watchdog=False),  # its own rows on its own schedule
                     database_url=db_url)

    async def setup() -> None:
        conn = await connect(db_url)
        try:
            user = await make_user(conn, "client")
            source, secret = await make_source(conn, "standard", rate_per_second=1e5,
                                               rate_burst=100_000, account_rate_per_second=1e5,
                                               account_rate_burst=100_000)
            await link_account(conn, source_name=source.name, external_user_id="ext-1",
                               email=user.email)
            world.update(auth=await bearer_for(conn, user), source=source.name,
                         webhook=Webhook(secret), email=user.email)
        finally:
            await conn.close()

    async def send(target: str, body: Any, content_type: str, suffix: str,
                   extra: str) -> tuple[int, dict[str, int], dict[str, int], str]:
        conn = world["conn"]
        before = await stored_rows(conn)
        content = encode(body, content_type)
        headers: dict[str, Any] = {"content-type": content_type.encode("latin-1"),
                                   "x-fuzz": extra.encode("latin-1")}
        path = {"webhook": f"/webhooks/{world['source']}", "login": "/auth/login",
                "tokens": "/auth/tokens", "samples": "/api/me/samples"}[target]
        path += quote(suffix.encode("utf-8", "surrogatepass"), safe="")
        if target == "webhook":
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            headers.update({"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                            "webhook-signature": world["webhook"].sign(
                                msg_id, now, content.decode())})
        elif target != "login":
            headers.update(world["auth"])
        try:
            r = await world["client"].post(path, content=content, headers=headers)
        except httpx.LocalProtocolError:  # a header httpx itself will not send
            return 400, before, before, ""
        after = await stored_rows(conn)
        return r.status_code, before, after, r.headers.get("content-type", "")

    @FUZZ
    @given(target=st.sampled_from(["webhook", "login", "tokens", "samples"]), body=bodies,
           content_type=content_types, suffix=st.one_of(st.just(""), texts), extra=header_values)
    def one(target: str, body: Any, content_type: str, suffix: str, extra: str) -> None:
        status, before, after, ctype = asyncio_runner.run(
            send(target, body, content_type, suffix, extra))
        assert status < 500, (target, body, content_type, suffix, status)
        if status >= 400:
            if ctype and not (target == "login" and ctype.startswith("text/html")):  # form login
                assert ctype.startswith("application/problem+json"), (target, status, ctype)
            changed = {t for t in after if after[t] != before.get(t)}
            if target == "login" and status in (401, 429):
                changed -= LOGIN_BOOKKEEPING
            assert not changed, (target, status, changed)

    async def open_client() -> None:
        world["conn"] = await connect(db_url)
        world["client"] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                            base_url="http://testserver")

    async def close_client() -> None:
        await world["client"].aclose()
        await world["conn"].close()

    try:
        asyncio_runner.run(setup())
        lifespan = app.router.lifespan_context(app)
        asyncio_runner.run(lifespan.__aenter__())
        asyncio_runner.run(open_client())
        try:
            one()
        finally:
            asyncio_runner.run(close_client())
            asyncio_runner.run(lifespan.__aexit__(None, None, None))
    finally:
        asyncio_runner.close()
