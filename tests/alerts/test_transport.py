"""Outbound HTTP limits against real local servers: redirects, response size, time-out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.alerts.receivers import free_port
from vitaltrust.alerts.transport import post


class Server:
    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes, float]]) -> None:
        self.port = free_port()
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                server.hits.append(self.path)
                code, headers, body, delay = routes[self.path]
                time.sleep(delay)
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def other() -> Iterator[Server]:
    s = Server({"/x": (200, {}, b"ok", 0.0)})
    yield s
    s.close()


@pytest.fixture
def server(other: Server) -> Iterator[Server]:
    s = Server({
        "/same": (307, {"location": "/ok"}, b"", 0.0),
        "/ok": (200, {}, b"fine", 0.0),
        "/away": (307, {"location": other.url("/x")}, b"", 0.0),
        "/loop": (307, {"location": "/loop"}, b"", 0.0),
        "/big": (200, {}, b"x" * 5_000_000, 0.0),
        "/slow": (200, {}, b"late", 3.0),
        "/busy": (503, {"retry-after": "120"}, b"", 0.0),
    })
    yield s
    s.close()


async def test_same_origin_redirect_is_followed(server: Server) -> None:
    out = await post(server.url("/same"), b"{}", {}, limit_seconds=5, max_response_bytes=100)
    assert (out.ok, out.status_code) == (True, 200)
    assert server.hits == ["/same", "/ok"]


async def test_redirect_to_another_host_is_refused(server: Server, other: Server) -> None:
    out = await post(server.url("/away"), b"{}", {}, limit_seconds=5, max_response_bytes=100)
    assert not out.ok and out.status_code == 307 and "another host" in (out.error or "")
    assert other.hits == []


async def test_redirect_loops_stop(server: Server) -> None:
    out = await post(server.url("/loop"), b"{}", {}, limit_seconds=5, max_response_bytes=100)
    assert not out.ok and "redirects" in (out.error or "")
    assert len(server.hits) == 4


async def test_response_is_read_only_up_to_the_limit(server: Server) -> None:
    out = await post(server.url("/big"), b"{}", {}, limit_seconds=5, max_response_bytes=1024)
    assert out.ok and out.duration_ms < 5000


async def test_time_out_and_retry_after(server: Server) -> None:
    out = await post(server.url("/slow"), b"{}", {}, limit_seconds=0.5, max_response_bytes=100)
    assert not out.ok and out.status_code is None and "timed out" in (out.error or "")
    assert out.duration_ms < 2000
    out = await post(server.url("/busy"), b"{}", {}, limit_seconds=5, max_response_bytes=100)
    assert (out.ok, out.status_code, out.retry_after) == (False, 503, 120.0)
