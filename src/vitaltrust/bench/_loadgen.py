"""A small HTTP/1.1 keep-alive load generator (asyncio streams, pre-built requests).

httpx spends more CPU per request than the server under test; here every request is
built (and signed) before the clock starts, each connection sends one request at a
time, and several processes share the work so the generator is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Tally:
    started: float = 0.0
    ended: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # successful (2xx) only
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connection-level failures

    def merge(self, other: Tally) -> None:
        self.started = min(self.started, other.started) if self.started else other.started
        self.ended = max(self.ended, other.ended)
        self.latencies_ms.extend(other.latencies_ms)
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        self.errors += other.errors


def build_request(url: str, method: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    path = parts.path or "/"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: keep-alive",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(host: str, port: int, requests: list[bytes], tally: Tally) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    for raw in requests:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value)
                elif lname == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            elapsed = (time.perf_counter() - t0) * 1000
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                tally.latencies_ms.append(elapsed)
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.errors += 1
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _run(url: str, requests: list[bytes], concurrency: int, start_at: float) -> Tally:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    per_conn: list[list[bytes]] = [requests[i::concurrency] for i in range(concurrency)]
    tally = Tally()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    tally.started = time.perf_counter()
    await asyncio.gather(*[_connection(host, port, chunk, tally) for chunk in per_conn if chunk])
    tally.ended = time.perf_counter()
    return tally


def _worker(args: tuple[str, list[bytes], int, float]) -> tuple[float, list[float], dict[int, int], int]:
    url, requests, concurrency, start_at = args
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    t = asyncio.run(_run(url, requests, concurrency, start_at))
    # perf_counter is system-wide on Linux (CLOCK_MONOTONIC), so spans compare across processes
    return t.ended - t.started, t.latencies_ms, t.statuses, t.errors


def run_load(url: str, requests: list[bytes], *, concurrency: int, processes: int) -> Tally:
    """Send every request (`concurrency` connections spread over `processes`)."""
    processes = max(1, min(processes, concurrency))
    shares = [requests[i::processes] for i in range(processes)]
    conns = [concurrency // processes + (1 if i < concurrency % processes else 0)
             for i in range(processes)]
    start_at = time.time() + 0.3 + 0.1 * processes
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        results = pool.map(_worker, [(url, s, c, start_at) for s, c in zip(shares, conns, strict=True)])
    total = Tally()
    span = 0.0
    for elapsed, lat, statuses, errors in results:
        span = max(span, elapsed)
        total.latencies_ms.extend(lat)
        for code, n in statuses.items():
            total.statuses[code] = total.statuses.get(code, 0) + n
        total.errors += errors
    total.started, total.ended = 0.0, span
    return total


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[k], 2)
