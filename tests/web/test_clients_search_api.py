"""GET /api/clients: search (name or e-mail, %, _ and \\ literal), server-side sort and offset
pages, for every role; bad parameters are problem+json 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import bearer_for, make_user
from tests.web.seed import assign, cache_row
from vitaltrust.db import Conn


async def _world(conn: Conn) -> dict[str, Any]:
    admin = await make_user(conn, "admin", email="boss@search.test")
    coach = await make_user(conn, "trainer", email="coach@search.test")
    other = await make_user(conn, "trainer", email="other@search.test")
    people = {  # key: (email, display name, weight score or None)
        "ann": ("ann.archer@search.test", "Ann Archer", 91.0),
        "abe": ("abe_50pct@search.test", "Abe 50% Best", 40.0),
        "bob": ("bob@search.test", "Bob Baker", 31.5),
        "cid": ("cid@search.test", None, None),
        "axl": ("axl\\b@search.test", "Axl Backslash", 77.0),
    }
    world: dict[str, Any] = {"admin": admin, "coach": coach, "other": other}
    for key, (email, name, score) in people.items():
        user = await make_user(conn, "client", email=email, display_name=name)
        world[key] = user
        await assign(conn, coach.user_id, user.user_id)
        if score is not None:
            await cache_row(conn, user.user_id, "weight", score,
                            "excellent" if score > 90 else "fair" if score > 60 else "poor")
    world["dora"] = await make_user(conn, "client", email="dora@search.test",
                                    display_name="Dora Annson")
    await assign(conn, other.user_id, world["dora"].user_id)
    return world


async def _get(client: httpx.AsyncClient, headers: dict[str, str], **params: Any
               ) -> dict[str, Any]:
    r = await client.get("/api/clients", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [c["email"] for c in body["clients"]]


async def test_search_matches_name_or_email_and_takes_wildcards_literally(
        app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    coach = await bearer_for(conn, w["coach"])
    assert _names(await _get(app_client, coach, q="archer")) == ["ann.archer@search.test"]
    assert _names(await _get(app_client, coach, q="BAKER")) == ["bob@search.test"]
    # % and _ are the text itself, not wildcards
    assert _names(await _get(app_client, coach, q="50%")) == ["abe_50pct@search.test"]
    assert _names(await _get(app_client, coach, q="e_5")) == ["abe_50pct@search.test"]
    assert _names(await _get(app_client, coach, q="b_b")) == []  # "bob" would match a wildcard
    assert _names(await _get(app_client, coach, q="l\\b")) == ["axl\\b@search.test"]
    body = await _get(app_client, coach, q="%")
    assert _names(body) == ["abe_50pct@search.test"] and body["matched"] == 1
    assert body["total_clients"] == 5  # the search narrows the rows, not the total
    everyone = await _get(app_client, coach, q="   ")  # blank: no search
    assert everyone["matched"] == 5


async def test_pages_cover_the_order_once(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    coach = await bearer_for(conn, w["coach"])
    for sort in ("worst", "best", "name", "stale"):
        whole = _names(await _get(app_client, coach, sort=sort))
        pages = [await _get(app_client, coach, sort=sort, limit=2, offset=o) for o in (0, 2, 4)]
        assert [p["matched"] for p in pages] == [5, 5, 5]
        assert [len(p["clients"]) for p in pages] == [2, 2, 1]
        assert [e for p in pages for e in _names(p)] == whole, sort
        assert pages[1]["offset"] == 2 and pages[1]["limit"] == 2
    worst = _names(await _get(app_client, coach))
    assert worst[:2] == ["bob@search.test", "abe_50pct@search.test"]  # poor 31.5, poor 40
    assert worst[2] == "cid@search.test"  # no data comes after poor
    assert _names(await _get(app_client, coach, sort="best"))[0] == "ann.archer@search.test"
    names = _names(await _get(app_client, coach, sort="name"))
    assert names == ["abe_50pct@search.test", "ann.archer@search.test", "axl\\b@search.test",
                     "bob@search.test", "cid@search.test"]  # by display name, else e-mail
    assert _names(await _get(app_client, coach, sort="stale"))[0] == "cid@search.test"
    past = await _get(app_client, coach, limit=2, offset=10)
    assert past["clients"] == [] and past["matched"] == 5


async def test_search_and_pages_for_every_role(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    anonymous = await app_client.get("/api/clients", params={"q": "ann", "limit": 1})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    # "ann" is in Ann Archer's e-mail and in Dora Annson's name
    seen = {role: _names(await _get(app_client, await bearer_for(conn, w[role]), q="ann"))
            for role in ("admin", "coach", "other", "bob", "ann")}
    assert sorted(seen["admin"]) == ["ann.archer@search.test", "dora@search.test"]
    assert seen["coach"] == ["ann.archer@search.test"]
    assert seen["other"] == ["dora@search.test"]
    assert seen["bob"] == [] and seen["ann"] == ["ann.archer@search.test"]
    bob_page = await _get(app_client, await bearer_for(conn, w["bob"]), limit=1, offset=0)
    assert _names(bob_page) == ["bob@search.test"] and bob_page["matched"] == 1


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"offset": -1},
                                    {"limit": "ten"}, {"sort": "random"}, {"q": "x" * 101}])
async def test_bad_parameters_are_problems(app_client: httpx.AsyncClient, conn: Conn,
                                           params: dict[str, Any]) -> None:
    headers = await bearer_for(conn, await make_user(conn, "trainer"))
    r = await app_client.get("/api/clients", params=params, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
