"""Terra `s3_payload`: the job downloads the linked JSON (httpx) and processes it.

The payload is served by a real HTTP server on 127.0.0.1; the https-only rule is relaxed
for these tests through its setting, and checked on its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.ingest.fixtures import terra
from tests.ingest.test_processing_job import drain, event
from tests.ingest.test_provider_processing import linked_user, rows, store, table
from vitaltrust.config import Settings, get_settings
from vitaltrust.db import Conn

ROUTES: dict[str, tuple[int, bytes]] = {
    "/sleep.json": (200, json.dumps(terra.SLEEP_FULL).encode()),
    "/not-json": (200, b"<html>AccessDenied</html>"),
    "/big.json": (200, b"[" + b"0," * 4000 + b"0]"),
    "/expired": (403, b"<Error><Code>AccessDenied</Code></Error>"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = ROUTES.get(self.path.split("?")[0], (404, b"missing"))
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def payload_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VITALTRUST_LINKED_PAYLOAD_HTTPS_ONLY", "false")
    monkeypatch.setenv("VITALTRUST_LINKED_PAYLOAD_MAX_BYTES", "4096")
    monkeypatch.setenv("VITALTRUST_LINKED_PAYLOAD_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def link(url: str) -> dict[str, Any]:
    return {**terra.S3_PAYLOAD, "url": url}


async def test_linked_payload_is_downloaded_and_processed(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, payload_server: str,
        http_allowed: None) -> None:
    user_id, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    event_id = await store(conn, source_id, link(f"{payload_server}/sleep.json?X-Amz-Signature=x"))
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "processed" and e["sample_count"] == 7, e
    found = await rows(conn, user_id)
    assert table(found, "sleep_duration") == [(25200, "s", "2026-07-01")]
    assert table(found, "hrv_rmssd") == [(35.2, "ms", "2026-07-01")]


async def test_non_json_and_oversized_payloads_fail_with_a_reason(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, payload_server: str,
        http_allowed: None) -> None:
    _, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    bad = await store(conn, source_id, link(f"{payload_server}/not-json"))
    big = await store(conn, source_id, link(f"{payload_server}/big.json"))
    await drain(app_client, settings)
    e = await event(conn, bad)
    assert e["status"] == "failed" and e["error"] == "the linked payload is not valid JSON"
    e = await event(conn, big)
    assert e["status"] == "failed" and "larger than 4096 bytes" in e["error"]


async def test_download_failure_is_retried_not_failed(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings, payload_server: str,
        http_allowed: None) -> None:
    _, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    refused = await store(conn, source_id, link("http://127.0.0.1:9/gone.json"))
    expired = await store(conn, source_id, link(f"{payload_server}/expired"))
    await drain(app_client, settings)
    for event_id in (refused, expired):
        assert (await event(conn, event_id))["status"] == "received"
    jobs = await (await conn.execute(
        "SELECT status, attempts, last_error FROM background_jobs "
        "WHERE type = 'webhook_processing' ORDER BY id")).fetchall()
    assert [(j["status"], j["attempts"]) for j in jobs] == [("pending", 1), ("pending", 1)], jobs
    assert "could not be downloaded" in jobs[0]["last_error"]
    assert "answered HTTP 403" in jobs[1]["last_error"]


async def test_plain_http_links_are_refused_by_default(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings,
        payload_server: str) -> None:
    get_settings.cache_clear()
    assert get_settings().linked_payload_https_only
    _, source_id = await linked_user(conn, "terra", terra.ACCOUNT)
    event_id = await store(conn, source_id, link(f"{payload_server}/sleep.json"))
    await drain(app_client, settings)
    e = await event(conn, event_id)
    assert e["status"] == "failed" and e["error"] == "the linked payload URL must be an https URL"
