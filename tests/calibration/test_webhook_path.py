"""The real path equals the in-process path: simulated users' deliveries, signed, sent to
POST /webhooks/{source}, processed by the workers into the cache, give the same scores as
calibration/pipeline.py computes in-process from the same deliveries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import make_user
from tests.ingest.support import standard_headers
from vitaltrust.calibration.pipeline import score_user, store
from vitaltrust.calibration.simulate import SOURCES, simulate_user
from vitaltrust.confidence.cache import Pair
from vitaltrust.confidence.cli import recalculate_in_process
from vitaltrust.confidence.model import score_for_version
from vitaltrust.confidence.types import Confidence, MetricSpec, Sample
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.ingest.sources import create_source, link_account
from vitaltrust.metrics.catalog import load_specs
from vitaltrust.queue.worker import run_until_idle

SEED, USERS = 5, 3
RATES = {"rate_per_second": 10000.0, "rate_burst": 10000, "account_rate_per_second": 10000.0,
         "account_rate_burst": 10000}
CACHE = """
SELECT user_id, metric, score::float8 AS score, level, latest_value, computed_at, model_version
FROM metric_confidence_cache ORDER BY user_id, metric
"""


async def test_webhook_path_gives_the_in_process_scores(
        app_client: httpx.AsyncClient, conn: Conn, settings: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    secrets, source_ids = {}, {}
    for name in SOURCES:  # created in order, so ids keep the in-process order
        source, secrets[name] = await create_source(conn, name, "standard", **RATES)
        source_ids[name] = source.source_id
    simulated = [simulate_user(SEED, i, now) for i in range(USERS)]
    user_ids = {}
    sent = 0
    for user, deliveries in simulated:
        account = await make_user(conn, "client", time_zone=user.time_zone)
        user_ids[account.user_id] = user.index
        for name in {d.source for d in deliveries}:
            await link_account(conn, source_name=name, external_user_id=user.account,
                               email=account.email)
        for d in deliveries:
            body = json.dumps(d.body).encode()
            r = await app_client.post(f"/webhooks/{d.source}", content=body,
                                      headers=standard_headers(secrets[d.source], body,
                                                               msg_id=d.message_id))
            assert r.status_code in (200, 202), r.text
            sent += 1
    assert sent > 100
    await run_until_idle(app_client.app.state.pool, settings, timeout=300)  # type: ignore[attr-defined]

    specs = await load_specs(conn)
    rows = await (await conn.execute(CACHE)).fetchall()
    assert {r["model_version"] for r in rows} == {"1"}
    by_index = {user.index: (user, deliveries) for user, deliveries in simulated}

    async def compare(version: str) -> int:
        rows = await (await conn.execute(CACHE)).fetchall()
        checked = 0
        scorer = score_for_version(version)

        def scored(samples: Sequence[Sample], spec: MetricSpec, t: datetime) -> Confidence:
            return scorer(samples, spec, t, None)

        for row in rows:
            user, deliveries = by_index[user_ids[row["user_id"]]]
            at = row["computed_at"]
            expected = score_user(store(user, deliveries, specs, at, source_ids), specs, at,
                                  scored)[row["metric"]]
            assert row["model_version"] == version == expected.model_version
            assert (row["score"], row["level"], row["latest_value"]) == (
                expected.score, expected.level, expected.latest_value), (user.index, row["metric"])
            checked += 1
        return checked

    pairs: set[Pair] = {(r["user_id"], r["metric"]) for r in rows}
    assert len(pairs) >= 3 * USERS
    assert await compare("1") == len(pairs)

    # recalculate-all moves every cached score to the configured model version
    moved = Settings(**{**settings.model_dump(), "confidence_model_version": "2"})
    count, _ = await recalculate_in_process(moved, batch_size=7, show=False)
    assert count == len(pairs)
    assert await compare("2") == len(pairs)
