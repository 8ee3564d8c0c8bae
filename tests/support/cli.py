"""Run the real `vitaltrust` command as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def vitaltrust_cmd() -> list[str]:
    exe = shutil.which("vitaltrust", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "vitaltrust"]


def cli_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    env["DATABASE_URL"] = db_url
    env.update(extra)
    return env


def run_cli(db_url: str, *args: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*vitaltrust_cmd(), *args], env=cli_env(db_url, **extra),
                          capture_output=True, text=True, timeout=timeout, check=False)
