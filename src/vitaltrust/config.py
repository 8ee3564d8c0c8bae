"""Settings from the environment (`DATABASE_URL`, `VITALTRUST_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("vitaltrust"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VITALTRUST_", extra="ignore")

    # --- database -------------------------------------------------------------------
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "VITALTRUST_DATABASE_URL")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=20, ge=1)
    # longest wait for a pooled connection on the request path: an unreachable database
    # answers 503 + Retry-After within about this long (workers wait longer, own pool)
    request_db_wait_seconds: float = Field(default=1.0, gt=0, le=30)
    worker_db_wait_seconds: float = Field(default=30.0, gt=0)

    # --- HTTP -----------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # "auto": Secure cookies when the request came over HTTPS.
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    session_ttl_hours: int = Field(default=12, ge=1)
    # failed logins allowed per e-mail / per client IP (IPv6: per /64) in each window
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)

    # --- ingestion ------------------------------------------------------------------
    rate_limit_enabled: bool = True
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    # a batch of deliveries scores the (user, metric) pairs it changed in its own
    # transaction instead of enqueueing one coalesced confidence_calculation job per pair
    # (measured 1.13x deliveries/s end to end, `bench e2e --backlog`; docs/queue.md)
    score_inline: bool = True
    # the address providers reach this server at, for the webhook URLs `sources` prints
    # (default: http://{host}:{port})
    public_url: str | None = None
    stats_flush_seconds: float = Field(default=1.0, gt=0)
    # POST /bench/webhooks/{source}: the webhook route without its database write, the
    # baseline of `bench ingest`; never enable it in production
    bench_no_store_route: bool = False
    # a delivery that only links to its payload (Terra `s3_payload`): the processing job
    # downloads it; https only unless relaxed (tests serve it from 127.0.0.1)
    linked_payload_https_only: bool = True
    linked_payload_timeout_seconds: float = Field(default=20.0, gt=0)
    linked_payload_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    # --- queue ----------------------------------------------------------------------
    worker_concurrency: int = Field(default=8, ge=1)
    # jobs claimed at once per concurrent slot; their completions commit together
    # (50 over 20: 1.23x deliveries/s end to end with set-based batch handlers)
    worker_batch_size: int = Field(default=50, ge=1)
    # job types with a batch handler get all their claimed jobs in one call (off: one by one)
    worker_batch_handlers: bool = True
    job_lease_seconds: int = Field(default=60, ge=5)
    job_timeout_seconds: int = Field(default=300, ge=1)
    poll_interval_seconds: float = Field(default=2.0, gt=0)
    scheduler_interval_seconds: float = Field(default=15.0, gt=0)
    shutdown_timeout_seconds: float = Field(default=20.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    # `serve`: the worker in a child process (its own interpreter and GIL, so job handlers
    # do not stall the API's event loop) or inline in the API process
    serve_worker: Literal["process", "inline"] = "process"
    # `serve`'s worker process runs at this nice level (0-19), so that on a busy host the
    # API's intake (durable deliveries, 202s) gets the CPU first and processing catches up
    serve_worker_nice: int = Field(default=10, ge=0, le=19)
    # `serve`'s worker process takes this many slots (a standalone `vitaltrust worker` takes
    # worker_concurrency): beside the API, fewer slots leave intake the CPU and still drain
    # (2 against 8 slots: intake 3,071 vs 2,507 deliveries/s at p99 22 vs 37 ms; end to end
    # at 500/s p95 57 vs 95 ms; a 20,000-delivery backlog 0.88x as fast; docs/operations.md)
    serve_worker_concurrency: int = Field(default=2, ge=1)

    # --- confidence -----------------------------------------------------------------
    # the model new scores are computed with ("1": as specified, "2": calibrated, see
    # docs/calibration.md); `confidence recalculate-all` moves every cached score to it
    confidence_model_version: Literal["1", "2"] = "1"

    # --- monitoring -----------------------------------------------------------------
    # GET /metrics: admins always; a Prometheus scraper may send this as its bearer token
    metrics_token: str | None = None
    metrics_cache_seconds: float = Field(default=5.0, ge=0)
    # health thresholds (monitoring/health.py): the dashboard, doctor and /readyz agree
    health_max_pending: int = Field(default=100, ge=1)
    health_max_oldest_pending_seconds: float = Field(default=300.0, gt=0)
    health_max_failed_rate_pct: float = Field(default=5.0, ge=0, le=100)
    health_min_webhook_success_pct: float = Field(default=95.0, ge=0, le=100)
    health_min_excellent_share_pct: float = Field(default=80.0, ge=0, le=100)

    # --- alerts and outbound events (docs/alerts.md) --------------------------------
    # Fernet key encrypting destination/subscription URLs and signing secrets at rest
    # (`vitaltrust alerts keygen`); required before any destination or subscription is added.
    outbound_secret_key: str | None = None
    # plain http:// targets are refused unless they are loopback addresses or this is set
    outbound_allow_http: bool = False
    outbound_max_attempts: int = Field(default=12, ge=1)
    # API processes watch for "no live worker" / "leader missing" themselves
    alert_watchdog: bool = True
    alert_window_seconds: int = Field(default=3600, ge=60)
    # a rule fires after its condition held this long, resolves after it cleared this long
    alert_min_duration_seconds: float = Field(default=60.0, ge=0)
    alert_resolve_seconds: float = Field(default=120.0, ge=0)
    # "no live worker" / "leader missing" (checked every scheduler interval by the API
    # watchdog and the leader) fire after holding this long; unset: half the scheduler
    # interval, i.e. on the second consecutive check that sees it
    alert_liveness_seconds: float | None = Field(default=None, ge=0)
    # hysteresis: a firing value must come back this far (percent of the threshold) inside it
    alert_hysteresis_pct: float = Field(default=10.0, ge=0, le=100)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "vitaltrust@localhost"
    smtp_timeout_seconds: float = Field(default=15.0, gt=0)

    # --- retention ------------------------------------------------------------------
    job_retention_days: int = Field(default=7, ge=1)
    log_retention_days: int = Field(default=30, ge=1)

    # --- logging --------------------------------------------------------------------
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    # --- demo (`serve --demo`) ------------------------------------------------------
    demo_rate: float = Field(default=2.0, gt=0, le=1000)  # live deliveries per second


def public_base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
