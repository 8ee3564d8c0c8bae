"""bench/locustfile.py imports without locust, and its deliveries are accepted."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import httpx

from tests.ingest.support import make_source
from vitaltrust.db import Conn

LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vt_locustfile", LOCUSTFILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_locustfile_deliveries_are_signed_and_accepted(app_client: httpx.AsyncClient,
                                                            conn: Conn) -> None:
    locustfile = load()
    source, secret = await make_source(conn)
    body, headers = locustfile.delivery(secret, "dev-1", 80.5)
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 202, r.text
    body, headers = locustfile.delivery("whsec_" + "A" * 32, "dev-1", 80.5)
    r = await app_client.post(f"/webhooks/{source.name}", content=body, headers=headers)
    assert r.status_code == 401  # a wrong secret is refused: the signing is real
