"""GET /api/clients: who sees whom, filters, worst-first order, sparklines."""

from __future__ import annotations

import httpx

from tests.conftest import bearer_for, make_user
from tests.web.seed import assign, cache_row
from vitaltrust.db import Conn


async def _world(conn: Conn) -> dict[str, object]:
    admin = await make_user(conn, "admin")
    trainer = await make_user(conn, "trainer")
    other_trainer = await make_user(conn, "trainer")
    ann = await make_user(conn, "client", display_name="Ann")
    bob = await make_user(conn, "client", display_name="Bob")
    cid = await make_user(conn, "client", display_name="Cid")      # no data yet
    dora = await make_user(conn, "client", display_name="Dora")    # another trainer's
    sandbox = await make_user(conn, "client", is_sandbox=True)
    for client in (ann, bob, cid, sandbox):
        await assign(conn, trainer.user_id, client.user_id)
    await assign(conn, other_trainer.user_id, dora.user_id)
    await cache_row(conn, ann.user_id, "weight", 91.0, "excellent")
    await cache_row(conn, ann.user_id, "steps", 72.0, "good", latest=8000)
    await cache_row(conn, bob.user_id, "weight", 31.5, "poor")
    await cache_row(conn, bob.user_id, "steps", 88.0, "excellent", latest=12000)
    await cache_row(conn, dora.user_id, "weight", 20.0, "poor")
    await cache_row(conn, sandbox.user_id, "weight", 10.0, "poor")
    return {"admin": admin, "trainer": trainer, "other": other_trainer, "ann": ann, "bob": bob,
            "cid": cid, "dora": dora, "sandbox": sandbox}


def _ids(body: dict[str, object]) -> list[int]:
    return [c["user_id"] for c in body["clients"]]  # type: ignore[attr-defined,index]


async def test_anonymous_is_refused(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/api/clients")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_trainer_sees_own_clients_worst_first(app_client: httpx.AsyncClient,
                                                     conn: Conn) -> None:
    w = await _world(conn)
    r = await app_client.get("/api/clients", headers=await bearer_for(conn, w["trainer"]))
    assert r.status_code == 200
    body = r.json()
    # Bob (poor weight) before Cid (no data) before Ann (worst is good); no sandbox, no Dora
    assert _ids(body) == [w["bob"].user_id, w["cid"].user_id, w["ann"].user_id]
    assert body["total_clients"] == 3
    assert [m["metric"] for m in body["metrics"]] == ["weight", "steps"]
    bob = body["clients"][0]
    assert bob["metrics"]["weight"]["level"] == "poor"
    assert bob["metrics"]["weight"]["score"] == 31.5
    assert bob["metrics"]["weight"]["unit"] == "kg"
    assert len(bob["metrics"]["weight"]["sparkline"]) == 5
    assert bob["last_sample_at"] is not None
    assert body["clients"][1]["metrics"] == {}


async def test_filter_by_metric_and_level(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    headers = await bearer_for(conn, w["trainer"])
    r = await app_client.get("/api/clients?metric=weight&level=poor", headers=headers)
    assert _ids(r.json()) == [w["bob"].user_id]
    r = await app_client.get("/api/clients?metric=steps&level=poor", headers=headers)
    assert _ids(r.json()) == []
    r = await app_client.get("/api/clients?level=excellent", headers=headers)
    assert set(_ids(r.json())) == {w["ann"].user_id, w["bob"].user_id}
    r = await app_client.get("/api/clients?level=awful", headers=headers)
    assert r.status_code == 422
    r = await app_client.get("/api/clients?metric=DROP%20TABLE", headers=headers)
    assert r.status_code == 422


async def test_admin_sees_everyone_but_sandbox(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    r = await app_client.get("/api/clients", headers=await bearer_for(conn, w["admin"]))
    ids = _ids(r.json())
    assert set(ids) == {w[k].user_id for k in ("ann", "bob", "cid", "dora")}
    assert ids[0] == w["dora"].user_id  # score 20 is the worst of all


async def test_client_sees_only_themselves(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    r = await app_client.get("/api/clients", headers=await bearer_for(conn, w["bob"]))
    body = r.json()
    assert _ids(body) == [w["bob"].user_id]
    assert w["ann"].email not in r.text


async def test_other_trainer_sees_none_of_them(app_client: httpx.AsyncClient, conn: Conn) -> None:
    w = await _world(conn)
    r = await app_client.get("/api/clients", headers=await bearer_for(conn, w["other"]))
    assert _ids(r.json()) == [w["dora"].user_id]
    assert w["bob"].email not in r.text
