"""The FastAPI application: lifespan (pool, migrations, statistics, optional worker) and routes."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from vitaltrust import __version__
from vitaltrust.api_docs import install_api_docs
from vitaltrust.config import Settings
from vitaltrust.db import connect, create_pool, resolve_database_url
from vitaltrust.edge import EdgeGuard
from vitaltrust.errors import database_unavailable, install_problem_handlers, problem_response
from vitaltrust.http import Pool
from vitaltrust.migrations import migrate, pending
from vitaltrust.monitoring.health import HealthThresholds, judge_health, measure_health_signals
from vitaltrust.monitoring.stats import StatsRecorder

log = logging.getLogger(__name__)

REQUEST_POOL_RECONNECT_SECONDS = 2.0


def create_app(settings: Settings, *, database_url: str | None = None,
               run_worker: bool = False, run_migrations: bool = True,
               worker_process: bool = False) -> FastAPI:
    """`serve` runs the API and a worker (with its scheduler): with `worker_process` a
    `vitaltrust worker` child started once the API is up, else in this process. `api`
    runs the API alone."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        app.state.database_url = url
        if run_migrations:
            conn = await connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        # after an outage the request pool reconnects on demand, not after a long backoff
        pool = create_pool(url, settings, timeout=settings.request_db_wait_seconds,
                           reconnect_timeout=REQUEST_POOL_RECONNECT_SECONDS)
        await pool.open(wait=True, timeout=30)
        app.state.pool = pool
        app.state.stats = StatsRecorder(pool, settings.stats_flush_seconds)
        app.state.stats.start()
        worker = worker_pool = child = None
        if run_worker and worker_process:
            from vitaltrust.queue.service import spawn_worker_process

            child = spawn_worker_process(url, settings.serve_worker_nice,
                                         settings.serve_worker_concurrency)
        elif run_worker:
            from vitaltrust.queue.service import start_worker, worker_pool_settings

            # the workers wait longer for a connection than a request may, and never
            # take the request path's connections
            worker_pool = create_pool(url, worker_pool_settings(settings), name="vitaltrust-worker")
            await worker_pool.open(wait=True, timeout=30)
            worker = await start_worker(url, worker_pool, settings, app.state.stats)
        watchdog = None
        if settings.alert_watchdog:
            from vitaltrust.alerts.watchdog import Watchdog

            watchdog = Watchdog(url, pool, settings)
            watchdog.start()
        # Long-lived objects made at start-up (routes, pools, handlers) leave the collector's
        # view, and young collections run less often: fewer pauses in the request tail.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        try:
            yield
        finally:
            if child is not None:
                from vitaltrust.queue.service import stop_worker_process

                await asyncio.to_thread(stop_worker_process, child,
                                        settings.shutdown_timeout_seconds + 10)
            if watchdog is not None:
                await watchdog.stop()
            if worker is not None:
                await worker.stop()
            await app.state.stats.stop()
            if worker_pool is not None:
                await worker_pool.close()
            await pool.close()

    app = FastAPI(title="vitaltrust", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(EdgeGuard, max_body_bytes=settings.max_body_bytes)
    install_api_docs(app)  # /docs from the pinned swagger-ui-bundle package, no CDN

    @app.get("/healthz", tags=["system"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["system"], response_model=None)
    async def readyz(pool: Pool) -> JSONResponse | dict[str, object]:
        """Ready: the API can accept and store deliveries. The pipeline's verdict (from the
        health function) is reported with the keys of failing findings, but a degraded or
        critical pipeline does not take the API out of a load balancer."""
        try:
            async with pool.connection() as conn:
                missing = await pending(conn)
                signals = None if missing else await measure_health_signals(conn)
        except (psycopg.Error, OSError) as exc:
            return database_unavailable(exc)
        if missing or signals is None:
            return problem_response(503, "migrations pending: "
                                    + ", ".join(m.version for m in missing))
        report = judge_health(signals, HealthThresholds.from_settings(settings))
        return {"status": "ready", "pipeline": report.pipeline,
                "data_quality": report.data_quality,
                "problems": [f.key for f in report.problems()]}

    for router in _domain_routers():
        app.include_router(router)
    if settings.bench_no_store_route:
        from vitaltrust.ingest.routes import bench_router

        app.include_router(bench_router)
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from vitaltrust.web.console import browser_aware_http_error

    app.add_exception_handler(StarletteHTTPException, browser_aware_http_error)
    return app


def _domain_routers() -> list[APIRouter]:
    from vitaltrust.alerts.routes import router as alerts_router
    from vitaltrust.auth.routes import router as auth_router
    from vitaltrust.confidence.routes import router as confidence_router
    from vitaltrust.ingest.admin_routes import router as sources_router
    from vitaltrust.ingest.routes import router as ingest_router
    from vitaltrust.metrics.routes import router as metrics_router
    from vitaltrust.monitoring.client_ingestion import router as client_ingestion_router
    from vitaltrust.monitoring.deliveries_routes import router as deliveries_router
    from vitaltrust.monitoring.jobs_routes import router as jobs_router
    from vitaltrust.monitoring.routes import router as monitoring_router
    from vitaltrust.monitoring.throughput import router as throughput_router
    from vitaltrust.selftest.routes import router as selftest_router
    from vitaltrust.web.console import router as console_router
    from vitaltrust.web.pages import router as web_router  # pages, /static, GET /api/clients

    return [ingest_router, auth_router, metrics_router, confidence_router, monitoring_router,
            jobs_router, deliveries_router, throughput_router, client_ingestion_router, web_router,
            console_router, selftest_router, sources_router, alerts_router]
