"""`vitaltrust bench e2e`: deliveries at a set rate; for each one, the time from its 202
to the confidence cache reflecting its sample (p50/p95).

    vitaltrust bench e2e --rate 500 --duration 20 --runs 3   # own `vitaltrust serve`
    vitaltrust bench e2e --backlog 20000                     # as fast as the API takes
                                                             # them; deliveries/s end to end
    vitaltrust bench e2e --rate 500 --baseline               # also the per-job, in-process
                                                             # worker, interleaved
    vitaltrust bench e2e --url http://host:8000 --rate 200   # a running server whose
                                                             # database is DATABASE_URL

Each delivery carries one weight sample for one of `--users` bench users, later
(measured_at) than every earlier one of that user; the cache reflects it once its row's
last_sample_at reaches that time. The watcher reads the cache every `--watch-ms` (which
bounds the resolution). An accepted delivery the cache never reflects within the run is a
miss: counted (`not_reflected`) and put in the percentiles as the run's whole duration.
The watcher asks only for users with an accepted, unreflected delivery, so polling costs the
server under test little. On a throw-away deployment the bench users and source are
ordinary (non-sandbox) rows, so statistics are on the path; against `--url` they are
sandbox rows, dropped at the end.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from vitaltrust.bench._loadgen import build_request, percentile
from vitaltrust.bench.ingest import signed_headers
from vitaltrust.db import Conn, connect

# Only the users with an accepted, not yet reflected delivery, each from its oldest one: a
# poll returns just what newly reached the cache and costs the server under test little.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WATCH = """
SELECT c.user_id, c.last_sample_at
FROM unnest(%s::bigint[], %s::timestamptz[]) AS w(user_id, since)
JOIN metric_confidence_cache c ON c.user_id = w.user_id AND c.metric = 'weight'
WHERE c.last_sample_at >= w.since
"""
# bench users: clients linked to one source; sandbox ones are registered as self-test
# sandboxes so that selftest_drop_sandboxes() removes every row they produced
CREATE_USERS = """
WITH u AS (
    INSERT INTO users (email, role, display_name, is_sandbox)
    SELECT 'e2e-' || %(tag)s || '-' || g || '@bench.invalid', 'client', 'bench e2e', %(sandbox)s
    FROM generate_series(1, %(n)s) AS g
    RETURNING user_id, split_part(split_part(email, '@', 1), '-', 3) AS g
), linked AS (
    INSERT INTO source_accounts (source_id, external_user_id, user_id)
    SELECT %(source_id)s, 'e2e-' || u.g, u.user_id FROM u
), registered AS (
    INSERT INTO selftest_sandboxes (user_id, source_ids) SELECT user_id, ARRAY[%(source_id)s]
    FROM u WHERE %(sandbox)s
)
SELECT user_id, 'e2e-' || g AS account FROM u ORDER BY g::int
"""
DROP = "SELECT selftest_drop_sandboxes(%s::bigint[])"


async def prepare(conn: Conn, users: int, sandbox: bool
                  ) -> tuple[str, str, list[tuple[int, str]]]:
    from vitaltrust.ingest.sources import create_source

    tag = uuid.uuid4().hex[:8]
    async with conn.transaction():
        source, secret = await create_source(
            conn, f"bench-e2e-{tag}", "standard", is_sandbox=sandbox, rate_per_second=1e6,
            rate_burst=1_000_000, account_rate_per_second=1e6, account_rate_burst=1_000_000)
        rows = await (await conn.execute(CREATE_USERS, {
            "tag": tag, "n": users, "source_id": source.source_id, "sandbox": sandbox})).fetchall()
    return source.name, secret, [(int(r["user_id"]), str(r["account"])) for r in rows]


class Watcher:
    """Polls the cache for the users whose accepted deliveries it does not reflect yet;
    `reflected[(user, measured_at)]` is the perf_counter when the cache first showed it."""

    def __init__(self, conn: Conn, interval: float) -> None:
        self.conn, self.interval = conn, interval
        self.waiting: dict[int, list[datetime]] = defaultdict(list)  # heaps
        self.newest: dict[int, datetime] = {}
        self.reflected: dict[tuple[int, datetime], float] = {}
        self.stop = False

    def expect(self, user_id: int, measured_at: datetime) -> None:
        """A delivery was accepted (202): watch for its sample."""
        if self.newest.get(user_id, EPOCH) >= measured_at:
            self.reflected[(user_id, measured_at)] = time.perf_counter()
        else:
            heapq.heappush(self.waiting[user_id], measured_at)

    @property
    def outstanding(self) -> int:
        return sum(len(h) for h in self.waiting.values())

    async def run(self) -> None:
        while not self.stop:
            users = [u for u, h in self.waiting.items() if h]
            if users:
                rows = await (await self.conn.execute(
                    WATCH, (users, [self.waiting[u][0] for u in users]))).fetchall()
                now = time.perf_counter()
                for r in rows:
                    user, at = r["user_id"], r["last_sample_at"]
                    self.newest[user] = max(at, self.newest.get(user, EPOCH))
                    heap = self.waiting[user]
                    while heap and heap[0] <= at:
                        self.reflected[(user, heapq.heappop(heap))] = now
            await asyncio.sleep(self.interval)

    def reflected_at(self, user_id: int, measured_at: datetime) -> float | None:
        return self.reflected.get((user_id, measured_at))


async def _status(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def send_paced(url: str, requests: list[bytes], rate: float | None, connections: int,
                     on_ack: Callable[[int], None] | None = None
                     ) -> tuple[list[float | None], dict[int, int], float]:
    """Open loop: request i leaves at start + i / rate (or as soon as a connection frees
    up; rate None: at once). Returns each request's ack time (None unless 202), statuses,
    the achieved rate."""
    parts = urlsplit(url)
    acks: list[float | None] = [None] * len(requests)
    statuses: dict[int, int] = defaultdict(int)
    queue = iter(range(len(requests)))
    start = time.perf_counter() + 0.2

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            for i in queue:
                if rate is not None:
                    await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                writer.write(requests[i])
                status = await _status(reader)
                statuses[status] += 1
                if status == 202:
                    acks[i] = time.perf_counter()
                    if on_ack is not None:
                        on_ack(i)
        finally:
            writer.close()

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    await asyncio.gather(*(connection() for _ in range(connections)))
    return acks, dict(statuses), len(requests) / max(time.perf_counter() - start, 1e-9)


def _plan(accounts: list[tuple[int, str]], n: int, url: str, secret: str, source: str
          ) -> tuple[list[tuple[int, datetime]], list[bytes]]:
    base_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    plan: list[tuple[int, datetime]] = []
    requests = []
    ts = int(time.time())
    for i in range(n):
        user_id, account = accounts[i % len(accounts)]
        at = base_at + timedelta(milliseconds=i)
        body = json.dumps({"type": "samples", "user": account, "samples": [
            {"metric": "weight", "value": 70 + (i % 50) / 100, "unit": "kg",
             "measured_at": at.isoformat(), "device": {"type": "scale"}}]}).encode()
        requests.append(build_request(url, "POST", body, signed_headers(
            "standard", secret, body, f"e2e-{source}-{i}", ts)))
        plan.append((user_id, at))
    return plan, requests


def latencies_ms(acks: list[float | None], seen: list[float | None], started: float,
                 ended: float) -> tuple[list[float], int]:
    """202 → cache for every accepted delivery; a miss (never reflected) counts as the
    run's whole duration, so it weighs on the percentiles. Returns (latencies, misses)."""
    lat: list[float] = []
    misses = 0
    for ack, t in zip(acks, seen, strict=True):
        if ack is None:
            continue
        if t is None:
            misses += 1
            lat.append((ended - started) * 1000)
        else:
            lat.append(max(0.0, (t - ack) * 1000))
    return lat, misses


async def one_run(base: str, db_url: str, rate: float | None, n: int, users: int,
                  connections: int, watch_ms: float, settle: float, sandbox: bool
                  ) -> dict[str, Any]:
    """`n` deliveries at `rate` per second (None: as fast as the API takes them)."""
    conn = await connect(db_url)
    try:
        source, secret, accounts = await prepare(conn, users, sandbox)
        user_ids = [u for u, _ in accounts]
        plan, requests = _plan(accounts, n, f"{base}/webhooks/{source}", secret, source)
        watch_conn = await connect(db_url)
        watcher = Watcher(watch_conn, watch_ms / 1000)
        watching = asyncio.create_task(watcher.run())
        t0 = time.perf_counter()
        try:
            acks, statuses, achieved = await send_paced(url=f"{base}/webhooks/{source}",
                                                         requests=requests, rate=rate,
                                                         connections=connections,
                                                         on_ack=lambda i: watcher.expect(*plan[i]))
            for _ in range(int(settle / 0.2)):  # the tail: until every ack is reflected
                if not watcher.outstanding:
                    break
                await asyncio.sleep(0.2)
        finally:
            watcher.stop = True
            await watching
            await watch_conn.close()
        ended = time.perf_counter()
        seen = [watcher.reflected_at(u, at) if ack is not None else None
                for ack, (u, at) in zip(acks, plan, strict=True)]
        lat, misses = latencies_ms(acks, seen, t0, ended)
        reflected = [t for ack, t in zip(acks, seen, strict=True)
                     if ack is not None and t is not None]
        accepted = sum(a is not None for a in acks)
        last = max(reflected, default=ended)
        if sandbox:
            async with conn.transaction():
                await conn.execute(DROP, (user_ids,))
        out = {"sent": n, "achieved_rate": round(achieved, 1), "accepted": accepted,
               "statuses": {str(k): v for k, v in sorted(statuses.items())},
               "reflected": len(reflected), "not_reflected": misses,
               "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95),
               "p99_ms": percentile(lat, 99), "max_ms": round(max(lat), 1) if lat else None}
        if rate is None:  # backlog: deliveries per second from the first send to the last reflection
            out["deliveries_per_s"] = round(len(reflected) / max(last - t0, 1e-9), 1)
            out["seconds"] = round(last - t0, 2)
        return out
    finally:
        await conn.close()


def settings_env(pairs: list[str]) -> dict[str, str]:
    """`VITALTRUST_NAME=value` options as an environment (a clear error for anything else)."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("VITALTRUST_") or not name[11:].replace("_", "").isalnum():
            raise typer.BadParameter(f"expected VITALTRUST_NAME=value, not {pair!r}")
        env[name] = value
    return env


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return round(statistics.median(values), 1) if values else None


KEYS = ("achieved_rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "not_reflected",
        "deliveries_per_s")


def _summary(results: list[dict[str, Any]]) -> dict[str, float | None]:
    return {k: _median(results, k) for k in KEYS if any(k in r for r in results)}


def register(bench_app: typer.Typer) -> None:
    @bench_app.command("e2e")
    def bench_e2e(
        rate: Annotated[float, typer.Option(help="Deliveries per second.", min=1)] = 500,
        duration: Annotated[float, typer.Option(help="Seconds of load per run.", min=1)] = 20,
        backlog: Annotated[int | None, typer.Option(
            help="Instead of a rate: send N deliveries as fast as the API takes them and "
                 "time until every cache reflects them (deliveries/s end to end).",
            min=1)] = None,
        runs: Annotated[int, typer.Option(help="Runs; medians are reported.", min=1)] = 1,
        users: Annotated[int, typer.Option(help="Bench users the deliveries spread over.",
                                           min=1)] = 1000,
        connections: Annotated[int, typer.Option(help="Open connections.", min=1)] = 64,
        watch_ms: Annotated[float, typer.Option(help="Cache poll interval.", min=1)] = 20,
        settle: Annotated[float, typer.Option(help="Seconds to wait for the tail.")] = 30,
        workers: Annotated[int, typer.Option(
            help="Self-started: 0 runs `serve`; N runs `api` and N `worker` processes.",
            min=0)] = 0,
        baseline: Annotated[bool, typer.Option(
            "--baseline", help="Self-started: also run `serve` with the worker in-process and "
                               "per-job handlers (as before batch handlers), alternating "
                               "with the candidate in every run; report both and ratios.")] = False,
        baseline_src: Annotated[str | None, typer.Option(
            help="With --baseline: run the baseline's servers from this source tree "
                 "(PYTHONPATH, e.g. an export of the previous release's src/).")] = None,
        url: Annotated[str | None, typer.Option(
            help="A running server (its database is DATABASE_URL); default: start "
                 "`vitaltrust serve` on a throw-away database.")] = None,
        setting: Annotated[list[str] | None, typer.Option(
            help="Self-started: VITALTRUST_NAME=value for the candidate's servers (repeat; "
                 "the bench's own VITALTRUST_* environment is not passed on).")] = None,
        baseline_setting: Annotated[list[str] | None, typer.Option(
            help="With --baseline: VITALTRUST_NAME=value for the baseline's servers "
                 "(repeat); given, it replaces the in-process, per-job baseline.")] = None,
    ) -> None:
        """Time from 202 to the confidence cache reflecting the sample; JSON."""
        from vitaltrust.bench._serve import PER_JOB_INLINE, throwaway_serve
        from vitaltrust.config import get_settings
        from vitaltrust.db import resolve_database_url

        n = backlog if backlog is not None else int(rate * duration)
        paced = None if backlog is not None else rate

        def once(base: str, db_url: str) -> dict[str, Any]:
            return asyncio.run(one_run(base.rstrip("/"), db_url, paced, n, users, connections,
                                       watch_ms, settle, sandbox=url is not None))

        head = {"scenario": "e2e", "mode": "backlog" if backlog else "rate", "deliveries": n,
                "settings": setting or [],
                "baseline": (baseline_setting or baseline_src
                             or "serve, inline worker, per-job handlers") if baseline else None,
                "rate": paced, "users": users, "watch_ms": watch_ms,
                "server": url or (f"api + {workers} workers" if workers else "serve")}
        if url is not None:
            results = [once(url, resolve_database_url(get_settings())) for _ in range(runs)]
            typer.echo(json.dumps({**head, "runs": results, "median": _summary(results)},
                                  indent=2))
            return
        cand_env = settings_env(setting or [])
        base_env = ({"PYTHONPATH": baseline_src} if baseline_src else {}) | (
            settings_env(baseline_setting) if baseline_setting
            else {} if baseline_src else PER_JOB_INLINE)
        variants = {"candidate": cand_env, **({"baseline": base_env} if baseline else {})}
        results_by: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for _ in range(runs):
            for name, env in variants.items():
                with throwaway_serve(workers, env) as (base, db_url):
                    results_by[name].append(once(base, db_url))
                typer.echo(json.dumps({name: results_by[name][-1]}), err=True)  # progress
        out: dict[str, Any] = {**head, "runs": results_by,
                               "median": {v: _summary(r) for v, r in results_by.items()}}
        if baseline:
            cand, base_ = out["median"]["candidate"], out["median"]["baseline"]
            out["ratio_candidate_to_baseline"] = {
                k: round(cand[k] / base_[k], 2) for k in ("p95_ms", "deliveries_per_s")
                if cand.get(k) and base_.get(k)}
        typer.echo(json.dumps(out, indent=2))
