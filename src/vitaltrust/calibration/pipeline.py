"""The in-process path: the same functions the webhook worker and the confidence job call,
without HTTP, the queue or the database, so that thousands of users fit in minutes.

delivery body -> the standard adapter (ingest.jobs.parse minus json.loads: the body is
already a dict) -> metrics.normalize.normalize -> an
in-memory copy of storage's keying (one row per source and measured_at, the later delivery
wins; a repeated message id is dropped as the webhook route drops it) -> the window
confidence/cache.py would load -> the confidence model. tests/calibration/test_webhook_path.py
runs a sample through the real path (signed HTTP, workers, cache) and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from vitaltrust.calibration.simulate import SOURCE_IDS, Delivery, SimUser
from vitaltrust.confidence.cache import AHEAD, LOOKBACK, STORAGE_FLAGS, window_start
from vitaltrust.confidence.types import Confidence, MetricSpec, Sample
from vitaltrust.ingest.adapters.standard import adapt_standard
from vitaltrust.metrics.normalize import normalize
from vitaltrust.metrics.types import Rejection

Scorer = Callable[[Sequence[Sample], MetricSpec, datetime], Confidence]
Key = tuple[str, int, datetime]  # metric, source, measured_at


def store(user: SimUser, deliveries: Sequence[Delivery], specs: Mapping[str, MetricSpec],
          now: datetime, source_ids: Mapping[str, int] = SOURCE_IDS) -> dict[str, list[Sample]]:
    """Every stored sample per metric after all deliveries, as storage would hold them."""
    seen: set[tuple[str, str]] = set()
    rows: dict[Key, Sample] = {}
    for d in deliveries:
        if (d.source, d.message_id) in seen:
            continue  # the webhook route accepts a message id once
        seen.add((d.source, d.message_id))
        result = adapt_standard(d.body)
        source_id = source_ids[d.source]
        for index, raw in enumerate(result.samples):
            n = normalize(raw, specs, time_zone=user.time_zone, now=now, index=index)
            if isinstance(n, Rejection):
                continue
            rows[(n.metric, source_id, n.measured_at)] = Sample(
                n.value, n.measured_at, n.local_date, source_id, n.device_type, d.received_at,
                n.flags, d.source)
    by_metric: dict[str, list[Sample]] = {}
    for (metric, _, _), sample in rows.items():
        by_metric.setdefault(metric, []).append(sample)
    return by_metric


def window(samples: Sequence[Sample], now: datetime) -> list[Sample]:
    """What confidence/cache.py loads for one pair: the window, its look-back, a day ahead;
    inside the window only the flags set at storage. (Outside it the database may also hold
    flags an earlier run set, e.g. UNIT_SLIP; they matter only when the window holds no valid
    sample and the latest older one was a slip.)"""
    start = window_start(now)
    out = []
    for s in samples:
        if not start - LOOKBACK <= s.measured_at <= now + AHEAD:
            continue
        if start < s.measured_at <= now and s.flags - STORAGE_FLAGS:
            s = Sample(s.value, s.measured_at, s.local_date, s.source_id, s.device_type,
                       s.received_at, s.flags & STORAGE_FLAGS, s.source_name)
        out.append(s)
    return out


def score_user(stored: Mapping[str, list[Sample]], specs: Mapping[str, MetricSpec],
               now: datetime, scorer: Scorer) -> dict[str, Confidence]:
    return {metric: scorer(window(samples, now), specs[metric], now)
            for metric, samples in sorted(stored.items())}
