"""Job handlers by job type.

A handler is `async def handle(conn, job) -> None`. The job runner (the edge) opens a
transaction on `conn`, calls the handler, and commits; raising fails the attempt and
rolls back everything the handler wrote. Handlers must be idempotent: a job whose
worker died after the commit but before its completion was recorded runs again.

Domains register handlers in their own `jobs.py` with `@job_handler("type")`;
`load_handlers()` imports every such module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vitaltrust.db import Conn


@dataclass(frozen=True)
class Job:
    id: int
    job_type: str
    payload: dict[str, Any]
    attempts: int  # attempts already made before this run
    max_attempts: int
    created_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Conn, Job], Awaitable[None]]


@dataclass(frozen=True)
class HandlerSpec:
    job_type: str
    handler: Handler
    timeout_seconds: float | None


_HANDLERS: dict[str, HandlerSpec] = {}
HANDLER_MODULES = ("vitaltrust.ingest.jobs", "vitaltrust.confidence.jobs", "vitaltrust.queue.jobs")
# Comma-separated extra modules to import (tests register test-only job types this way,
# so that worker subprocesses know them too).
EXTRA_MODULES_ENV = "VITALTRUST_EXTRA_JOB_MODULES"


def job_handler(job_type: str, *, timeout_seconds: float | None = None
                ) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[job_type] = HandlerSpec(job_type, fn, timeout_seconds)
        return fn

    return register


def get_handler(job_type: str) -> HandlerSpec | None:
    return _HANDLERS.get(job_type)


def _domain_job_modules() -> list[str]:
    """Every `vitaltrust.<domain>.jobs` module, so a new domain needs no edit here."""
    import vitaltrust

    found = [f"vitaltrust.{m.name}.jobs" for m in pkgutil.iter_modules(vitaltrust.__path__)
             if m.ispkg]
    return [name for name in found if importlib.util.find_spec(name) is not None]


def load_handlers() -> dict[str, HandlerSpec]:
    """Import every module that registers handlers (and periodic tasks); return the handlers."""
    for name in dict.fromkeys([*HANDLER_MODULES, *_domain_job_modules()]):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    extra = os.environ.get(EXTRA_MODULES_ENV, "")
    for name in filter(None, (m.strip() for m in extra.split(","))):
        importlib.import_module(name)
    return dict(_HANDLERS)
