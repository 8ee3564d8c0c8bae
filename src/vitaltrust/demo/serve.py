"""`vitaltrust serve --demo`: seed the demo organisation, then serve with the simulator.

The API, worker and scheduler are the ordinary `serve`; the simulator is a background task
on the same event loop that starts once the server listens and talks to it over HTTP.
"""

from __future__ import annotations

import asyncio
import logging

import typer

from vitaltrust import __version__
from vitaltrust.config import Settings
from vitaltrust.db import connect, create_pool, resolve_database_url
from vitaltrust.demo.routes import router
from vitaltrust.demo.seed import DemoWorld, seed
from vitaltrust.demo.simulator import DemoSimulator
from vitaltrust.migrations import migrate

log = logging.getLogger(__name__)
BANNER_WAIT_SECONDS = 60.0


async def prepare(url: str, *, force: bool) -> DemoWorld:
    conn = await connect(url)
    try:
        await migrate(conn)
        async with conn.transaction():
            return await seed(conn, force=force)
    finally:
        await conn.close()


def serve_demo(s: Settings, host: str, port: int, *, force: bool, rate: float | None) -> None:
    import uvicorn

    from vitaltrust.app import create_app

    url = resolve_database_url(s)
    world = asyncio.run(prepare(url, force=force))
    application = create_app(s, database_url=url, run_worker=True)
    application.include_router(router)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    config = uvicorn.Config(application, host=host, port=port, log_config=None,
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    per_second = rate if rate is not None else s.demo_rate

    async def main() -> None:
        pool = create_pool(url, s.model_copy(update={"pool_min_size": 1, "pool_max_size": 3}),
                           name="vitaltrust-demo")
        await pool.open(wait=True, timeout=30)
        simulator = DemoSimulator(world, pool, rate=per_second)
        application.state.demo = simulator

        def base() -> str:
            bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
            return f"http://{shown}:{bound}"

        async def announce() -> None:
            """The banner with the credentials prints last: once the history is sent (the
            start-up's log lines are above it), or after BANNER_WAIT_SECONDS at the latest."""
            waited = 0.0
            while waited < BANNER_WAIT_SECONDS and simulator.counters.phase != "live":
                await asyncio.sleep(0.2)
                waited += 0.2
            typer.echo(f"vitaltrust {__version__} demo listening on {base()}  "
                       f"(dashboard: {base()}/admin; simulator: {per_second:g} "
                       "deliveries/s; Ctrl-C to stop)")
            for line in world.credentials.lines():
                typer.echo(line)

        task = asyncio.create_task(simulator.run(lambda: server.started, base, lambda: server.should_exit))
        task.add_done_callback(_report)
        banner = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            task.cancel()
            banner.cancel()
            await asyncio.gather(task, banner, return_exceptions=True)
            await pool.close()

    asyncio.run(main())


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("demo simulator stopped", exc_info=task.exception())
