"""The deployment's public HTTP API, as the self-test uses it (admin and sandbox client)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from vitaltrust.bench.ingest import signed_headers

T = TypeVar("T")
POLL_SECONDS = 0.1


class CheckFailed(Exception):
    """A check found the property broken; the message is the table's detail."""


@dataclass(frozen=True)
class Sandbox:
    user_id: int
    token: str
    external_user_id: str
    sources: dict[str, dict[str, Any]]  # "main" / "limited" -> name, source_id, secret, budget

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sandbox:
        return cls(int(data["user_id"]), str(data["token"]), str(data["external_user_id"]),
                   dict(data["sources"]))

    def source_ids(self) -> dict[str, int]:
        return {s["name"]: int(s["source_id"]) for s in self.sources.values()}


def _expect(r: httpx.Response, *statuses: int) -> httpx.Response:
    if r.status_code not in statuses:
        raise CheckFailed(f"{r.request.method} {r.request.url.path} answered {r.status_code}: "
                          f"{r.text[:200]}")
    return r


def sample_body(external_user_id: str, samples: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "samples", "user": external_user_id, "samples": samples},
                      separators=(",", ":")).encode()


class Api:
    def __init__(self, http: httpx.AsyncClient, admin_token: str) -> None:
        self.http = http
        self._admin = {"Authorization": f"Bearer {admin_token}"}

    # --- admin: the sandbox -------------------------------------------------------------
    async def create_sandbox(self) -> Sandbox:
        r = _expect(await self.http.post("/api/admin/selftest/sandbox", headers=self._admin), 201)
        return Sandbox.from_json(r.json())

    async def drop_sandbox(self, sandbox: Sandbox) -> None:
        _expect(await self.http.delete(f"/api/admin/selftest/sandbox/{sandbox.user_id}",
                                       headers=self._admin), 204)

    async def events(self, sandbox: Sandbox) -> list[dict[str, Any]]:
        r = _expect(await self.http.get(f"/api/admin/selftest/sandbox/{sandbox.user_id}",
                                        headers=self._admin), 200)
        return list(r.json()["events"])

    # --- provider: signed deliveries ----------------------------------------------------
    def signed(self, sandbox: Sandbox, source: str, body: bytes,
               msg_id: str | None = None) -> tuple[str, dict[str, str]]:
        src = sandbox.sources[source]
        msg_id = msg_id or f"selftest-{uuid.uuid4().hex}"
        headers = signed_headers("standard", src["secret"], body, msg_id, int(time.time()))
        return f"/webhooks/{src['name']}", headers

    async def deliver(self, sandbox: Sandbox, source: str, samples: list[dict[str, Any]],
                      ) -> httpx.Response:
        body = sample_body(sandbox.external_user_id, samples)
        path, headers = self.signed(sandbox, source, body)
        return _expect(await self.http.post(path, content=body, headers=headers), 202)

    # --- the sandbox client -------------------------------------------------------------
    def _client(self, sandbox: Sandbox) -> dict[str, str]:
        return {"Authorization": f"Bearer {sandbox.token}"}

    async def confidence(self, sandbox: Sandbox, metric: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/users/{sandbox.user_id}/metrics/{metric}/confidence",
                                headers=self._client(sandbox))
        return dict(_expect(r, 200).json())

    async def samples(self, sandbox: Sandbox, metric: str, include: str = "") -> dict[str, Any]:
        r = await self.http.get(f"/api/users/{sandbox.user_id}/metrics/{metric}/samples",
                                params={"include": include} if include else None,
                                headers=self._client(sandbox))
        return dict(_expect(r, 200).json())

    async def manual_entry(self, sandbox: Sandbox, entry: dict[str, Any]) -> dict[str, Any]:
        r = await self.http.post("/api/me/samples", json=entry, headers=self._client(sandbox))
        return dict(_expect(r, 201).json())

    async def wait_for(self, fetch: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                       deadline: float, what: str) -> T:
        """Poll `fetch` until `ok`; CheckFailed naming `what` after `deadline` seconds."""
        end = time.monotonic() + deadline
        last: T | None = None
        while True:
            last = await fetch()
            if ok(last):
                return last
            if time.monotonic() >= end:
                raise CheckFailed(f"{what} not within {deadline:g} s")
            await asyncio.sleep(POLL_SECONDS)
