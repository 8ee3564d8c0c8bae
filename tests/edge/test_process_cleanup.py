"""Real `vitaltrust` processes on a private data dir, stopped with real signals: no
PostgreSQL of that data dir is left running, also after a SIGKILLed holder."""

from __future__ import annotations

import json
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

pytestmark = [pytest.mark.slow]


def postgres_of(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" in cmd and str(data_dir) in cmd and "vitaltrust" not in cmd:
            found.append(p)
    return found


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("VITALTRUST_") and k != "DATABASE_URL"}
    env["VITALTRUST_DATA_DIR"] = str(data_dir)
    return env


def start(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*vitaltrust_cmd(), *args], env=env_for(data_dir), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def holders(data_dir: Path) -> list[int]:
    try:
        return list(json.loads((data_dir / "pg" / ".handle_pids.json").read_text()))
    except (OSError, ValueError):
        return []


def wait_holding(proc: subprocess.Popen[str], data_dir: Path, within: float = 60) -> None:
    """Until `proc` has attached to the embedded server (its pid is in the handle file)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        if proc.pid in holders(data_dir) and postgres_of(data_dir):
            time.sleep(0.5)  # past the attach, into the command's own work
            return
        time.sleep(0.2)
    raise TimeoutError("the command did not attach to the embedded PostgreSQL")


def stop_with(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def assert_no_postgres_left(data_dir: Path, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while postgres_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not postgres_of(data_dir), "a PostgreSQL of this data dir is still running"


def serve_until_healthy(data_dir: Path) -> subprocess.Popen[str]:
    port = free_port()
    proc = start(data_dir, "serve", "--port", str(port))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("serve did not answer /healthz")


@pytest.fixture
def data_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A data dir whose embedded database is migrated (and stopped again by `migrate`)."""
    d = tmp_path / "data"
    done = subprocess.run([*vitaltrust_cmd(), "migrate"], env=env_for(d), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done
    assert_no_postgres_left(d)
    yield d
    for p in postgres_of(d):  # never leave one behind, whatever the test found
        p.kill()


def test_every_command_stops_its_postgres_on_sigterm_and_sigint(data_dir: Path) -> None:
    for args, sig in ((("logs", "--follow"), signal.SIGTERM), (("logs", "--follow"), signal.SIGINT),
                      (("worker",), signal.SIGTERM), (("worker",), signal.SIGINT)):
        proc = start(data_dir, *args)
        wait_holding(proc, data_dir)
        code, out = stop_with(proc, sig)
        assert "Traceback" not in out, out
        assert code in (0, 130), (args, sig, code, out)
        assert_no_postgres_left(data_dir)
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = serve_until_healthy(data_dir)
        code, out = stop_with(proc, sig)
        assert code in (0, 130), (sig, code, out)
        assert_no_postgres_left(data_dir)


def test_a_sigkilled_holder_does_not_keep_postgres_running(data_dir: Path) -> None:
    crashed = start(data_dir, "logs", "--follow")
    wait_holding(crashed, data_dir)
    crashed.kill()  # SIGKILL: no clean-up ran, its pid stays in the handle file
    crashed.wait(10)
    assert crashed.pid in holders(data_dir) and postgres_of(data_dir)
    proc = serve_until_healthy(data_dir)
    assert crashed.pid not in holders(data_dir)  # dropped when serve attached
    code, out = stop_with(proc, signal.SIGINT)
    assert code in (0, 130), out
    assert_no_postgres_left(data_dir)


def test_db_stop_stops_a_leftover_server(data_dir: Path) -> None:
    crashed = start(data_dir, "logs", "--follow")
    wait_holding(crashed, data_dir)
    user = start(data_dir, "logs", "--follow")  # a live holder: db stop refuses
    wait_holding(user, data_dir)
    crashed.kill()
    crashed.wait(10)
    refused = subprocess.run([*vitaltrust_cmd(), "db", "stop"], env=env_for(data_dir),
                             capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1 and str(user.pid) in refused.stderr, refused
    assert postgres_of(data_dir)
    user.kill()  # now both holders are gone without cleaning up
    user.wait(10)
    assert postgres_of(data_dir), "nothing stopped it: a leftover server"
    done = subprocess.run([*vitaltrust_cmd(), "db", "stop"], env=env_for(data_dir),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "stopped" in done.stdout, done
    assert_no_postgres_left(data_dir)
    again = subprocess.run([*vitaltrust_cmd(), "db", "stop"], env=env_for(data_dir),
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0 and "no embedded PostgreSQL is running" in again.stdout
