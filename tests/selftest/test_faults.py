"""A real `vitaltrust serve` whose metric catalog differs from the model's built-in one
(a deployment scoring with other rules): the accuracy and conflict checks must fail."""

from __future__ import annotations

import pytest

from tests.selftest.test_live import FAST, admin_token, outcome, selftest
from tests.support.procs import running_api
from vitaltrust.db import Conn

pytestmark = pytest.mark.slow


async def test_accuracy_and_conflict_fail_when_the_server_scores_differently(
        db_url: str, conn: Conn) -> None:
    token = await admin_token(conn)
    # resting HR 200 bpm no longer implausible; manual entries now outrank scales
    await conn.execute("UPDATE metric_catalog SET hard_max = 250 "
                       "WHERE metric = 'resting_heart_rate'")
    await conn.execute("UPDATE metric_catalog SET default_priority = "
                       "ARRAY['manual', 'lab', 'scale', 'phone', 'watch'] WHERE metric = 'weight'")
    with running_api(db_url, command="serve", **FAST) as base:
        code, report = selftest(db_url, base, token, "--deadline", "5", "--check", "accuracy",
                                "--check", "conflict-resolution", "--check", "idempotency")
    assert outcome(report) == {"accuracy": False, "conflict-resolution": False,
                               "idempotency": True}, report
    assert code == 1
    details = {r["check"]: r["detail"] for r in report["results"]}
    assert "!= reference" in details["accuracy"]
    assert "no conflict won by the scale" in details["conflict-resolution"]
