"""Group concurrent requests into one database round trip.

`submit(item)` waits until the batch holding `item` has been flushed and returns that
item's result. A batch is flushed after `max_wait` seconds or at `max_items`; while
`max_in_flight` flushes are running, new items keep collecting, so batches grow with load.
The caller is answered only after its flush returned (for ingestion: after the commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

Flush = Callable[[list[ItemT]], Awaitable[Sequence[ResultT]]]


class MicroBatcher(Generic[ItemT, ResultT]):
    def __init__(self, flush: Flush[ItemT, ResultT], *, max_wait: float = 0.001, max_items: int = 64,
                 max_in_flight: int = 2) -> None:
        self._flush = flush
        self._max_wait = max_wait
        self._max_items = max_items
        self._max_in_flight = max_in_flight
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self.batches = 0  # flushes started (observability and tests)

    async def submit(self, item: ItemT) -> ResultT:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_items:
            self._launch()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_wait, self._launch)
        return await asyncio.shield(future)

    def _launch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or len(self._in_flight) >= self._max_in_flight:
            return  # a finishing flush picks the pending items up
        batch = self._pending[: self._max_items]
        self._pending = self._pending[self._max_items:]
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending:
            self._launch()

    async def _run(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        self.batches += 1
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError("a batch flush returned the wrong number of results")
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
