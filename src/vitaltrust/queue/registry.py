"""Job handlers by job type.

A handler is `async def handle(conn, job) -> None`. The job runner (the edge) opens a
transaction on `conn`, calls the handler, and commits; raising fails the attempt and
rolls back everything the handler wrote. Handlers must be idempotent: a job whose
worker died after the commit but before its completion was recorded runs again.

A job type may also register a batch handler, `async def handle(conn, jobs) -> None`
with `@batch_handler("type")`: the runner then passes every claimed job of that type at
once (in the same transaction), so the work takes a constant number of statements. If it
raises, the runner falls back to one savepoint per job and calls it with one job each, so
a failing job is isolated and retried alone.

Domains register handlers in their own `jobs.py` with `@job_handler("type")`;
`load_handlers()` imports every such module.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
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
BatchHandler = Callable[[Conn, Sequence[Job]], Awaitable[None]]


@dataclass(frozen=True)
class HandlerSpec:
    job_type: str
    handler: Handler
    timeout_seconds: float | None
    batch: BatchHandler | None = None


_HANDLERS: dict[str, HandlerSpec] = {}
_BATCH_HANDLERS: dict[str, BatchHandler] = {}
HANDLER_MODULES = ("vitaltrust.ingest.jobs", "vitaltrust.ingest.batch_jobs",
                   "vitaltrust.confidence.jobs", "vitaltrust.queue.jobs")
# Comma-separated extra modules to import (tests register test-only job types this way,
# so that worker subprocesses know them too).
EXTRA_MODULES_ENV = "VITALTRUST_EXTRA_JOB_MODULES"


def job_handler(job_type: str, *, timeout_seconds: float | None = None
                ) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[job_type] = HandlerSpec(job_type, fn, timeout_seconds)
        return fn

    return register


def batch_handler(job_type: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the batch form of `job_type` (its `@job_handler` stays the per-job form)."""
    def register(fn: BatchHandler) -> BatchHandler:
        _BATCH_HANDLERS[job_type] = fn
        return fn

    return register


def _with_batch(spec: HandlerSpec) -> HandlerSpec:
    batch = _BATCH_HANDLERS.get(spec.job_type)
    return spec if batch is None or spec.batch is batch else replace(spec, batch=batch)


def get_handler(job_type: str) -> HandlerSpec | None:
    spec = _HANDLERS.get(job_type)
    return None if spec is None else _with_batch(spec)


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
    return {t: _with_batch(spec) for t, spec in _HANDLERS.items()}
