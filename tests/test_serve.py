"""`vitaltrust serve` on a fresh machine: embedded PostgreSQL, /healthz within 30 s, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.cli import vitaltrust_cmd
from tests.support.procs import free_port


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" in cmd and str(data_dir) in cmd:
            found.append(p)
    return found


@pytest.mark.slow
def test_serve_with_embedded_database_answers_then_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VITALTRUST_") and k != "DATABASE_URL"}
    env["VITALTRUST_DATA_DIR"] = str(data_dir)
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([*vitaltrust_cmd(), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        answered = None
        while time.monotonic() - started < 30 and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    answered = time.monotonic() - started
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered is not None, "no /healthz within 30 s"
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        assert _postgres_of(data_dir), "the embedded PostgreSQL should run in the data dir"
        workers = _worker_children(proc.pid)
        assert len(workers) == 1, "serve runs its worker as a child process"
        # the API's intake gets the CPU first on a busy host
        assert workers[0].nice() == psutil.Process(proc.pid).nice() + 10
        # and takes fewer slots than a standalone worker (VITALTRUST_SERVE_WORKER_CONCURRENCY)
        assert workers[0].environ().get("VITALTRUST_WORKER_CONCURRENCY") == "2"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Created the first admin" in out and "password:" in out
    deadline = time.monotonic() + 15
    while _postgres_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _postgres_of(data_dir), "serve left its embedded PostgreSQL running"
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def _worker_children(pid: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in psutil.Process(pid).children()
                 if "worker" in " ".join(c.cmdline())]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.slow
def test_serves_worker_child_stops_when_serve_is_killed(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    env.update(DATABASE_URL=db_url, VITALTRUST_LOG_LEVEL="WARNING")
    port = free_port()
    proc = subprocess.Popen([*vitaltrust_cmd(), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = _worker_children(proc.pid)
        assert len(workers) == 1
        proc.kill()  # SIGKILL to serve alone: its child must not be left orphaned
        proc.wait(10)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, "the worker outlived the killed serve"
    finally:
        if proc.poll() is None:
            proc.kill()
