"""A deduplicated enqueue keeps its pending twin from being claimed until it commits.

Otherwise a worker could run the twin before the enqueuing transaction's data is visible,
and no job would be left to see that data (a lost recalculation).
"""

from __future__ import annotations

from vitaltrust.db import connect
from vitaltrust.queue.enqueue import NewJob, enqueue, enqueue_many
from vitaltrust.queue.worker import claim


async def test_twin_is_not_claimable_until_the_deduplicated_enqueue_commits(db_url: str) -> None:
    writer, worker = await connect(db_url), await connect(db_url)
    try:
        twin = await enqueue(writer, "noop", {"n": 1}, dedupe_key="confidence:1:weight")
        assert twin is not None
        async with writer.transaction():
            # the write that needs a recalculation, deduplicated against the pending twin
            assert await enqueue(writer, "noop", {"n": 2}, dedupe_key="confidence:1:weight") is None
            assert await claim(worker, "w-test", 10, 30) == []
        claimed = await claim(worker, "w-test", 10, 30)
        assert [c.job.id for c in claimed] == [twin]
    finally:
        await writer.close()
        await worker.close()


async def test_bulk_deduplicated_enqueue_locks_twins_and_tolerates_repeated_keys(db_url: str) -> None:
    writer, worker = await connect(db_url), await connect(db_url)
    try:
        first = await enqueue_many(writer, [NewJob("noop", {}, dedupe_key="k1")])
        async with writer.transaction():
            new = await enqueue_many(writer, [NewJob("noop", {}, dedupe_key="k1"),
                                              NewJob("noop", {}, dedupe_key="k2"),
                                              NewJob("noop", {}, dedupe_key="k2")])
            assert len(new) == 1  # k2 once; k1 was already pending
            assert await claim(worker, "w-test", 10, 30) == []
        claimed = sorted(c.job.id for c in await claim(worker, "w-test", 10, 30))
        assert claimed == sorted([*first, *new])
    finally:
        await writer.close()
        await worker.close()


async def test_release_beside_a_pending_twin_hands_back_without_the_key(db_url: str) -> None:
    from vitaltrust.queue.worker import release

    c = await connect(db_url)
    try:
        first = await enqueue(c, "noop", {}, dedupe_key="confidence:7:weight")
        [claimed] = await claim(c, "w-a", 10, 30)
        assert claimed.job.id == first
        twin = await enqueue(c, "noop", {}, dedupe_key="confidence:7:weight")  # new data came in
        assert twin is not None
        await release(c, "w-a")  # e.g. shutdown: must not violate the dedupe index
        rows = await (await c.execute(
            "SELECT id, status, dedupe_key FROM background_jobs ORDER BY id")).fetchall()
        assert [(r["id"], r["status"], r["dedupe_key"]) for r in rows] == [
            (first, "pending", None), (twin, "pending", "confidence:7:weight")]
    finally:
        await c.close()
