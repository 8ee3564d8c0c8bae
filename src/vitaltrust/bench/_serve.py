"""A throw-away database with `vitaltrust serve` on it, for benches that need the whole
pipeline (API + worker + scheduler)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from vitaltrust.bench.ingest import _wait


@contextmanager
def throwaway_serve(workers: int = 0) -> Iterator[tuple[str, str]]:
    """Yields (base URL, database URL); drops the database afterwards. `workers` > 0:
    `vitaltrust api` and that many `vitaltrust worker` processes instead of `serve`."""
    from socket import socket

    from vitaltrust.db import connect, embedded_url
    from vitaltrust.migrations import migrate

    tmp = Path(tempfile.mkdtemp(prefix="vt-bench-"))
    admin_url = os.environ.get("DATABASE_URL") or embedded_url(tmp / "data")
    name = f"vt_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not input
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)

    async def migrated() -> None:
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(migrated())
    with socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    env.update(DATABASE_URL=url, VITALTRUST_LOG_LEVEL="WARNING",
               VITALTRUST_DATA_DIR=str(tmp / "data"))
    commands = [["serve", "--port", str(port)]] if workers == 0 else \
        [["api", "--port", str(port)]] + [["worker"]] * workers
    procs = [subprocess.Popen([sys.executable, "-m", "vitaltrust", *c], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for c in commands]
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base + "/healthz", procs[0])
        yield base, url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
