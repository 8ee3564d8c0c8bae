"""On the demo (`vitaltrust serve --demo`, a real process), every level change of a
(user, metric) reaches a subscribed receiver as one signed confidence.level_changed event,
verified with the official `standardwebhooks` package, in order per user and metric."""

from __future__ import annotations

import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import psycopg
import pytest

from tests.alerts.receivers import HttpReceiver
from tests.support.cli import run_cli
from tests.support.procs import free_port, spawn, stop, wait_http
from vitaltrust.alerts.secrets import new_key

pytestmark = [pytest.mark.slow]
RUN_SECONDS = 45
EVENTS = "SELECT count(*) FROM outbound_events WHERE event_type = 'confidence.level_changed'"
UNDELIVERED = "SELECT count(*) FROM outbound_deliveries WHERE status <> 'delivered'"


def scalar(db_url: str, query: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as c:
        row = c.execute(query).fetchone()
        return int(row[0]) if row else 0


def test_every_demo_level_change_arrives_once_signed_and_in_order(db_url: str,
                                                                  tmp_path: Path) -> None:
    key = new_key()
    receiver = HttpReceiver()
    done = run_cli(db_url, "alerts", "subscriptions", "add", "coach", "--url", receiver.url,
                   "--event", "confidence.level_changed", VITALTRUST_OUTBOUND_SECRET_KEY=key)
    assert done.returncode == 0, done.stderr
    receiver.secret = done.stdout.split("shown once): ")[1].strip()
    receiver.start()
    try:
        port = free_port()
        proc = spawn(db_url, "serve", "--demo", "--port", str(port),
                     log_path=tmp_path / "serve.log", VITALTRUST_OUTBOUND_SECRET_KEY=key,
                     VITALTRUST_DEMO_RATE="10", VITALTRUST_SCHEDULER_INTERVAL_SECONDS="2")
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            time.sleep(RUN_SECONDS)
        finally:
            stop(proc)
        # the demo's traffic has stopped; a plain worker sends what is still queued
        worker = spawn(db_url, "worker", log_path=tmp_path / "worker.log",
                       VITALTRUST_OUTBOUND_SECRET_KEY=key)
        try:
            until = time.monotonic() + 120
            while scalar(db_url, UNDELIVERED) and time.monotonic() < until:
                time.sleep(0.5)
        finally:
            stop(worker)
    finally:
        receiver.stop()
    emitted = scalar(db_url, EVENTS)
    assert emitted > 0 and scalar(db_url, UNDELIVERED) == 0
    assert receiver.rejected == 0  # every body verified with the official package
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == emitted  # one message per level change

    chains: dict[tuple[int, str], list[tuple[str | None, str]]] = defaultdict(list)
    for r in receiver.received:
        d = r.payload["data"]
        chains[(d["user_id"], d["metric"])].append((d["old_level"], d["new_level"]))
    with psycopg.connect(db_url, autocommit=True) as c:
        cache = {(u, m): lvl for u, m, lvl in c.execute(
            "SELECT c.user_id, c.metric, c.level FROM metric_confidence_cache c "
            "JOIN users u USING (user_id) WHERE NOT u.is_sandbox")}
    assert set(chains) == set(cache)  # every scored pair announced its level
    changes = 0
    for pair, chain in chains.items():
        assert chain[0][0] is None, pair  # the first score
        for (_, new), (old, _) in pairwise(chain):
            assert old == new, (pair, chain)  # no change missed, none out of order
        assert chain[-1][1] == cache[pair], (pair, chain)
        changes += len(chain) - 1
    print(f"demo: {len(chains)} pairs, {emitted} level_changed events, {changes} changes after "
          "the first score, all verified")
