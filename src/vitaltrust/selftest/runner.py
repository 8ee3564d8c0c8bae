"""Run the self-test: create a sandbox, run the chosen checks in order, always clean up."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from vitaltrust.selftest.checks import CHECKS, Context
from vitaltrust.selftest.client import Api, CheckFailed

DEFAULT_DEADLINE = 15.0


@dataclass(frozen=True)
class CheckResult:
    check: str
    ok: bool
    duration_ms: float
    detail: str


@dataclass(frozen=True)
class Report:
    results: list[CheckResult]
    cleanup: str  # "ok" or what went wrong

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "results": [asdict(r) for r in self.results],
                "cleanup": self.cleanup}


def unknown_checks(names: list[str] | None) -> list[str]:
    return [n for n in names or [] if n not in CHECKS]


def _error(exc: Exception) -> str:
    if isinstance(exc, CheckFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:300]


async def run_selftest(http: httpx.AsyncClient, admin_token: str, names: list[str] | None = None,
                       deadline: float = DEFAULT_DEADLINE) -> Report:
    """`http` has the deployment's base URL; `names` None runs every check."""
    chosen = list(names) if names else list(CHECKS)
    if bad := unknown_checks(chosen):
        raise ValueError(f"unknown check(s) {', '.join(bad)}; known: {', '.join(CHECKS)}")
    api = Api(http, admin_token)
    try:
        sandbox = await api.create_sandbox()
    except (CheckFailed, httpx.HTTPError, KeyError, ValueError) as exc:
        detail = f"could not create the sandbox: {_error(exc)}"
        return Report([CheckResult(n, False, 0.0, detail) for n in chosen], "nothing to clean")
    results = []
    try:
        for name in chosen:
            started = time.perf_counter()
            try:
                detail, ok = await CHECKS[name](Context(api, sandbox, deadline)), True
            except Exception as exc:  # a check reports; it never stops the others
                detail, ok = _error(exc), False
            results.append(CheckResult(name, ok, round((time.perf_counter() - started) * 1000, 1),
                                       detail))
    finally:
        try:
            await api.drop_sandbox(sandbox)
            cleanup = "ok"
        except (CheckFailed, httpx.HTTPError) as exc:
            cleanup = f"sandbox user {sandbox.user_id} left behind: {_error(exc)}"
    return Report(results, cleanup)
