"""Drills on a running deployment (real `vitaltrust api` and `worker` processes):
all workers stop -> "no live worker" reaches a webhook, a Slack and an e-mail destination
within two scheduler ticks, once, and "resolved" once after they return; a worker
SIGKILLed mid-delivery loses nothing and its duplicate carries the same webhook-id."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.alerts.receivers import HttpReceiver, SmtpReceiver
from tests.queue.workers import FAST, scalar, start_workers, wait_until
from tests.support.cli import run_cli
from tests.support.procs import running_api, stop
from vitaltrust.alerts.secrets import new_key

pytestmark = [pytest.mark.drill, pytest.mark.slow]
TICK = 1.0
LIVE = ("SELECT count(*) FROM workers "
        "WHERE last_seen_at > now() - make_interval(secs => 3 * heartbeat_seconds)")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    smtp = SmtpReceiver().start()
    yield {**FAST, "VITALTRUST_OUTBOUND_SECRET_KEY": new_key(),
           "VITALTRUST_SCHEDULER_INTERVAL_SECONDS": str(TICK),
           "VITALTRUST_SMTP_HOST": "127.0.0.1", "VITALTRUST_SMTP_PORT": str(smtp.port),
           "VITALTRUST_SMTP_STARTTLS": "false", "VITALTRUST_PUBLIC_URL": "https://vt.example",
           "_SMTP": smtp}  # type: ignore[dict-item]
    smtp.stop()


def cli(db_url: str, env: dict[str, str], *args: str) -> str:
    done = run_cli(db_url, *args, **{k: v for k, v in env.items() if not k.startswith("_")})
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(check: Callable[[], bool], within: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"not within {within}s")


def test_stopping_all_workers_pages_every_destination_once_and_resolves_once(
        db_url: str, env: dict[str, str], tmp_path: Path) -> None:
    smtp: SmtpReceiver = env["_SMTP"]  # type: ignore[assignment]
    proc_env = {k: v for k, v in env.items() if not k.startswith("_")}
    hook, slack = HttpReceiver(), HttpReceiver(slack=True).start()
    out = cli(db_url, env, "alerts", "destinations", "add", "ops-hook", "--kind", "webhook",
              "--target", hook.url, "--timeout", "3")
    hook.secret = out.split("shown once): ")[1].strip()
    hook.start()
    cli(db_url, env, "alerts", "destinations", "add", "ops-slack", "--kind", "slack",
        "--target", slack.url)
    cli(db_url, env, "alerts", "destinations", "add", "ops-mail", "--kind", "email",
        "--target", "oncall@example.com")
    assert "ops-mail" in cli(db_url, env, "alerts", "destinations", "list")

    def sent() -> dict[str, list[str]]:
        return {"hook": [r.payload["type"] for r in hook.received],
                "slack": [r.payload["text"].split("]")[0] + "]" for r in slack.received],
                "mail": [str(m["Subject"]).split("]")[0] + "]" for m in smtp.messages]}

    workers = start_workers(db_url, 2, tmp_path, concurrency=2)
    try:
        wait_until(db_url, LIVE, 2, 30)
        with running_api(db_url, log_path=tmp_path / "api.log", **proc_env):
            time.sleep(3 * TICK)
            assert sent() == {"hook": [], "slack": [], "mail": []}
            for w in workers:
                stop(w)
            gone = time.monotonic()
            assert scalar(db_url, LIVE) == 0
            wait_for(lambda: all(len(v) == 1 for v in sent().values()), 10 * TICK)
            latency = time.monotonic() - gone
            # two watchdog checks one tick apart, plus sending
            assert latency <= 2 * TICK + 1.5, latency
            assert sent() == {"hook": ["alert.firing"], "slack": ["[FIRING]"],
                              "mail": ["vitaltrust [FIRING]"]}
            assert hook.received[0].payload["data"]["rule"] == "no_live_worker"

            workers = start_workers(db_url, 2, tmp_path, concurrency=2)
            wait_for(lambda: all(len(v) == 2 for v in sent().values()), 20 * TICK)
            time.sleep(4 * TICK)  # and nothing more
            assert sent() == {"hook": ["alert.firing", "alert.resolved"],
                              "slack": ["[FIRING]", "[RESOLVED]"],
                              "mail": ["vitaltrust [FIRING]", "vitaltrust [RESOLVED]"]}
            assert hook.rejected == 0
            print(f"no-live-worker alert delivered {latency:.2f} s after the last worker left "
                  f"(scheduler interval {TICK:g} s)")
    finally:
        for w in workers:
            stop(w)
        hook.stop()
        slack.stop()
    status = cli(db_url, env, "alerts", "status")
    assert "no_live_worker" in status and "resolved" in status


def test_worker_killed_mid_delivery_loses_nothing_and_keeps_the_webhook_id(
        db_url: str, env: dict[str, str], tmp_path: Path) -> None:
    proc_env = {k: v for k, v in env.items() if not k.startswith("_")}
    receiver = HttpReceiver(delay=30.0)  # the first delivery hangs until the kill
    out = cli(db_url, env, "alerts", "subscriptions", "add", "coach", "--url", receiver.url,
              "--event", "alert.firing", "--timeout", "60")
    receiver.secret = out.split("shown once): ")[1].strip()
    receiver.start()
    for rule in ("r1", "r2", "r3"):  # three events on one ordered stream
        scalar(db_url, "SELECT outbound_emit('alert.firing', 'alert', %s::jsonb)",
               (f'{{"rule": "{rule}"}}',))
    [worker] = start_workers(db_url, 1, tmp_path, concurrency=1, **proc_env)
    try:
        wait_for(lambda: len(receiver.received) == 1, 30)
        stop(worker, signal.SIGKILL)
        first = receiver.received[0].webhook_id
        receiver.delay = 0.0
        [worker] = start_workers(db_url, 1, tmp_path, concurrency=1, **proc_env)
        wait_until(db_url, "SELECT count(*) FROM outbound_deliveries WHERE status = 'delivered'",
                   3, 60)
    finally:
        stop(worker)
        receiver.stop()
    ids = [r.webhook_id for r in receiver.received]
    rules = [r.payload["data"]["rule"] for r in receiver.received]
    assert ids[0] == ids[1] == first  # the duplicate is recognisable
    assert rules == ["r1", "r1", "r2", "r3"]  # nothing lost, in order
    assert len(set(ids)) == 3 and receiver.rejected == 0
