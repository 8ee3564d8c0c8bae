"""Log lines: JSON with VITALTRUST_LOG_FORMAT=json, readable otherwise, ids from log_context."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from vitaltrust.logging_setup import log_context, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_ids(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("json", "INFO")
    log = logging.getLogger("vitaltrust.queue.worker")
    with log_context(job_id=41, job_type="webhook_processing"):
        with log_context(webhook_event_id=7, ignored=None):
            log.warning("attempt %d failed", 2)
        log.info("retrying")
    log.debug("below the level")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("handler crashed")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    assert first["msg"] == "attempt 2 failed" and first["level"] == "warning"
    assert first["logger"] == "vitaltrust.queue.worker"
    assert (first["job_id"], first["webhook_event_id"], first["job_type"]) == (41, 7, "webhook_processing")
    assert "ignored" not in first
    assert second["job_id"] == 41 and "webhook_event_id" not in second  # the inner context ended
    assert "job_id" not in third and "RuntimeError: boom" in third["exc"]
    assert first["ts"].endswith("+00:00")


def test_text_lines_carry_ids(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("text", "INFO")
    with log_context(job_id=41):
        logging.getLogger("vitaltrust.ingest").info("stored %d samples", 3)
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO    vitaltrust.ingest: stored 3 samples job_id=41")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_repeated_warnings_are_summarised() -> None:
    import logging

    from vitaltrust.logging_setup import RepeatSummary

    now = [0.0]
    f = RepeatSummary(window=60, clock=lambda: now[0])

    def rec(msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("vitaltrust.queue.worker", level, __file__, 1, msg, args, None)

    first = rec("job attempt %d of %d failed: %s", 1, 5, "LockNotAvailable: could not lock")
    assert f.filter(first)
    held = [f.filter(rec("job attempt %d of %d failed: %s", 2, 5,
                         "LockNotAvailable: could not lock")) for _ in range(99)]
    assert not any(held)
    assert f.filter(rec("something else happened"))          # other text: printed
    assert f.filter(rec("info lines are never held", level=logging.INFO))
    now[0] = 61.0
    summary = rec("job attempt %d of %d failed: %s", 3, 5, "LockNotAvailable: could not lock")
    assert f.filter(summary)
    assert summary.getMessage().endswith("(and 99 more like it in the last 60 s)")
