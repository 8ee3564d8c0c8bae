"""MicroBatcher: concurrent submissions share flushes; errors reach every waiter."""

from __future__ import annotations

import asyncio

import pytest

from vitaltrust.ingest.batcher import MicroBatcher


async def test_concurrent_items_share_a_flush_and_get_their_own_result() -> None:
    seen: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        seen.append(items)
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(flush, max_wait=0.005, max_items=8,
                                                   max_in_flight=1)
    results = await asyncio.gather(*[batcher.submit(i) for i in range(20)])
    assert results == [i * 10 for i in range(20)]
    assert all(len(b) <= 8 for b in seen) and len(seen) < 20
    assert sorted(i for b in seen for i in b) == list(range(20))


async def test_a_failed_flush_fails_every_item_of_that_batch() -> None:
    async def flush(items: list[str]) -> list[str]:
        raise RuntimeError("database down")

    batcher: MicroBatcher[str, str] = MicroBatcher(flush, max_wait=0.001)
    outcomes = await asyncio.gather(*[batcher.submit(x) for x in "abc"], return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


async def test_a_cancelled_waiter_does_not_break_the_batch() -> None:
    release = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        await release.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(flush, max_wait=0.001)
    doomed = asyncio.create_task(batcher.submit(1))
    other = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.01)
    doomed.cancel()
    release.set()
    assert await other == 2
    with pytest.raises(asyncio.CancelledError):
        await doomed
