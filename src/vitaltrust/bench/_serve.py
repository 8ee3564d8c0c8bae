"""Throw-away deployments for benches: a fresh migrated database (on DATABASE_URL's server or
an embedded one) and real `vitaltrust` processes on it, all removed afterwards."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from socket import socket
from typing import TypeVar

import psycopg
from psycopg import sql

from vitaltrust.db import Conn, connect, embedded_url
from vitaltrust.migrations import migrate

T = TypeVar("T")
DROP = "DROP DATABASE IF EXISTS {} WITH (FORCE)"


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the server did not start within {timeout:.0f} s")


def wait_for_worker(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            row = c.execute("SELECT count(*) FROM workers").fetchone()
            if row and row[0]:
                return
            time.sleep(0.1)
    raise TimeoutError(f"no worker registered within {timeout:.0f} s")


@contextmanager
def throwaway_deployment(commands: list[list[str]],
                         setup: Callable[[Conn], Awaitable[T]] | None = None,
                         env: dict[str, str] | None = None
                         ) -> Iterator[tuple[str, str, T | None]]:
    """Yields (base URL, database URL, what `setup` returned). The first command serves HTTP
    and gets `--port` appended; `setup` runs on the migrated database before they start;
    `env` adds settings (VITALTRUST_*) for the processes."""
    tmp = Path(tempfile.mkdtemp(prefix="vt-bench-"))
    admin_url = os.environ.get("DATABASE_URL") or embedded_url(tmp / "data")
    name = f"vt_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)

    async def prepare() -> T | None:
        conn = await connect(url)
        try:
            await migrate(conn)
            if setup is None:
                return None
            async with conn.transaction():
                return await setup(conn)
        finally:
            await conn.close()

    try:
        prepared = asyncio.run(prepare())
        with serving(url, commands, env, tmp) as base:
            yield base, url, prepared
    finally:
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(sql.SQL(DROP).format(sql.Identifier(name)))


@contextmanager
def serving(url: str, commands: list[list[str]], env: dict[str, str] | None = None,
            data_dir: Path | None = None) -> Iterator[str]:
    """Run `vitaltrust` processes on the database `url` (the first serves HTTP on a free
    port, `--port` appended); yields its base URL once healthy; stops them all after."""
    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    proc_env.update(DATABASE_URL=url, VITALTRUST_LOG_LEVEL="WARNING", **(env or {}))
    if data_dir is not None:
        proc_env["VITALTRUST_DATA_DIR"] = str(data_dir / "data")
    argv = [[*commands[0], "--port", str(port)], *commands[1:]]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "vitaltrust", *a], env=proc_env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for a in argv]
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base + "/healthz", procs[0])
        if any(c[0] in ("serve", "worker") for c in commands):
            wait_for_worker(url, procs[0])  # `serve`'s worker starts beside the API
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


# `serve` as it was before batch handlers and the worker child process (bench baselines)
PER_JOB_INLINE = {"VITALTRUST_SERVE_WORKER": "inline", "VITALTRUST_WORKER_BATCH_HANDLERS": "false"}


@contextmanager
def throwaway_serve(workers: int = 0, env: dict[str, str] | None = None
                    ) -> Iterator[tuple[str, str]]:
    """`vitaltrust serve`, or with `workers` > 0 `vitaltrust api` plus that many workers;
    yields (base URL, database URL)."""
    commands = [["serve"]] if workers == 0 else [["api"]] + [["worker"]] * workers
    with throwaway_deployment(commands, env=env) as (base, url, _):
        yield base, url
