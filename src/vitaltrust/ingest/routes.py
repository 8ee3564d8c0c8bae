"""`POST /webhooks/{source}` (and `/webhooks/{source}/{token}` for Garmin, whose endpoint
configuration takes a URL only): authenticate, limit, store durably, answer. Nothing more.

Order: (path: no NUL, vitaltrust.edge) → source (404, also when disabled) → size (413) →
signature or URL token (401) → content type / JSON, storable text, depth (415 / 400) →
rate limit (429) → one shared commit of the event and its job → 202 (or 200 for a
duplicate, 409 for a different body under a known event id). Garmin treats anything but
200 as a failed notification, so a Garmin push gets 200 both when accepted and when a
duplicate. Samples are parsed later, by the webhook_processing job.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from vitaltrust.config import Settings
from vitaltrust.edge import loads_checked
from vitaltrust.errors import Problem
from vitaltrust.ingest.envelope import account_of, event_type
from vitaltrust.ingest.events import Delivery, EventWriter
from vitaltrust.ingest.ratelimit import RateCheck
from vitaltrust.ingest.signatures import SignatureError, verify
from vitaltrust.ingest.source_cache import SourceCache
from vitaltrust.ingest.sources import Source
from vitaltrust.monitoring.stats import StatsRecorder

router = APIRouter(tags=["webhooks"])

MAX_EVENT_ID_LEN = 255
JSON_TYPES = ("application/json", "text/json")


class IngestRuntime:
    """Per-process helpers of the ingestion path (created on first use)."""

    def __init__(self, app: FastAPI) -> None:
        pool = app.state.pool
        self.sources = SourceCache(pool)
        self.writer = EventWriter(pool)


def runtime(app: FastAPI) -> IngestRuntime:
    rt: IngestRuntime | None = getattr(app.state, "ingest", None)
    if rt is None:
        rt = app.state.ingest = IngestRuntime(app)
    return rt


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it exceeds `limit`, never buffering more."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(content_type: str | None, body: bytes) -> dict[str, Any]:
    media = (content_type or "").split(";")[0].strip().lower()
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise Problem(415, f"expected a JSON body, got content type {media!r}")
    payload = loads_checked(body, "the body")  # the edge's rules: what we accept, the job can store
    if not isinstance(payload, dict):
        raise Problem(400, "the body must be a JSON object")
    return payload


async def _accept(request: Request, name: str, settings: Settings, stats: StatsRecorder,
                  rt: IngestRuntime, url_token: str | None, *,
                  store: bool = True) -> tuple[Source | None, JSONResponse]:
    source = await rt.sources.get(name)
    if source is None or not source.enabled or source.kind == "manual" or (
            url_token is not None and source.kind != "garmin"):
        raise Problem(404, f"no webhook source named {name!r}")
    if source.is_sandbox:  # self-test traffic never shows in statistics
        request.state.sandbox = True
        stats = StatsRecorder(None)
    try:
        body = await read_limited(request, settings.max_body_bytes)
        headers = request.headers
        now = time.time()
        try:
            provider_id = verify(source.kind, headers, body, signing_keys=source.signing_keys(now),
                                 secret_hashes=source.secret_hashes(now),
                                 garmin_client_id=source.garmin_client_id, now=now,
                                 tolerance=settings.webhook_tolerance_seconds, url_token=url_token)
        except SignatureError as exc:
            raise Problem(401, f"signature check failed: {exc}") from None
        content_type = headers.get("content-type")
        payload = parse_json(content_type, body)
        if provider_id is not None and len(provider_id) > MAX_EVENT_ID_LEN:
            raise Problem(400, f"the event id is longer than {MAX_EVENT_ID_LEN} characters")
        check = (RateCheck.for_source(source, account_of(source.kind, payload))
                 if settings.rate_limit_enabled else None)
        digest = hashlib.sha256(body).digest()
        delivery = Delivery(source.source_id, provider_id or digest.hex(), digest, body,
                            content_type, event_type(source.kind, payload), check)
        if not store:  # the bench baseline: everything but the database
            return source, JSONResponse({"webhook_event_id": None,
                                         "event_id": delivery.event_id}, status_code=202)
        stored = await rt.writer.store(delivery)  # outage: 503 by the app's handler
        if stored.rate is not None and not stored.rate.allowed:
            retry = max(1, int(stored.rate.retry_after + 0.999))
            stats.record_webhook(source.source_id, "rate_limited")
            raise Problem(429, f"rate limit exceeded; retry in {retry} s",
                          headers={"Retry-After": str(retry), **stored.rate.headers})
    except Problem as exc:
        if exc.status != 429:
            stats.record_webhook(source.source_id, "rejected")
        raise
    if stored.outcome == "conflict":
        stats.record_webhook(source.source_id, "rejected")
        raise Problem(409, f"event id {delivery.event_id!r} was already received with a "
                      "different body", webhook_event_id=stored.webhook_event_id)
    if stored.outcome == "duplicate":
        stats.record_webhook(source.source_id, "duplicates")
        return source, JSONResponse({"duplicate": True, "webhook_event_id": stored.webhook_event_id,
                                     "event_id": delivery.event_id}, status_code=200)
    stats.record_webhook(source.source_id, "received")
    return source, JSONResponse({"webhook_event_id": stored.webhook_event_id,
                                 "event_id": delivery.event_id},
                                status_code=200 if source.kind == "garmin" else 202)


@router.post("/webhooks/{source}", status_code=202, response_model=None,
             responses={200: {"description": "duplicate delivery, or an accepted Garmin push"},
                        401: {}, 404: {}, 409: {}, 413: {}, 415: {}, 429: {}})
async def receive_webhook(source: str, request: Request) -> JSONResponse:
    """Receive one provider delivery (the signature is the authentication)."""
    return await _receive(source, request, None)


@router.post("/webhooks/{source}/{token}", status_code=200, response_model=None,
             responses={401: {}, 404: {}, 413: {}, 415: {}, 429: {}})
async def receive_garmin_push(source: str, token: str, request: Request) -> JSONResponse:
    """Receive a Garmin push: the unguessable token in the registered URL (plus the
    `garmin-client-id` header when the source has one) is the authentication."""
    return await _receive(source, request, token)


async def _receive(source: str, request: Request, url_token: str | None) -> JSONResponse:
    started = time.perf_counter()
    stats: StatsRecorder = request.app.state.stats
    ok = False
    try:
        _, response = await _accept(request, source, request.app.state.settings, stats,
                                    runtime(request.app), url_token)
        ok = True
        return response
    finally:
        if not getattr(request.state, "sandbox", False):
            stats.record_call("webhook-ingest", (time.perf_counter() - started) * 1000, ok=ok)


# `bench ingest`'s baseline, mounted only with VITALTRUST_BENCH_NO_STORE_ROUTE=true: the same
# source lookup (cached), body limit, signature check and JSON parsing, no database write.
bench_router = APIRouter(tags=["bench"])


@bench_router.post("/bench/webhooks/{source}", status_code=202, response_model=None,
                   include_in_schema=False)
async def receive_without_storing(source: str, request: Request) -> JSONResponse:
    _, response = await _accept(request, source, request.app.state.settings,
                                StatsRecorder(None), runtime(request.app), None, store=False)
    return response
