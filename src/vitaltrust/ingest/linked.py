"""Downloading a payload a provider only links to (Terra's `s3_payload`).

A download that fails (network, time-out, non-200) raises `LinkedPayloadUnavailable`: the
job fails and the queue retries it. A body that is not a JSON object, or is larger than
the limit, will not get better: it raises `AdapterError` and the event fails with the reason.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from vitaltrust.metrics.types import AdapterError


class LinkedPayloadUnavailable(RuntimeError):
    """The linked payload could not be downloaded now (retryable)."""


async def fetch_linked_payload(url: str, *, https_only: bool, timeout_seconds: float,
                               max_bytes: int) -> dict[str, Any]:
    parts = urlsplit(url)
    allowed = ("https",) if https_only else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise AdapterError(f"the linked payload URL must be an {' or '.join(allowed)} URL")
    body = bytearray()
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client, \
                client.stream("GET", url, headers={"accept": "application/json"}) as response:
            if response.status_code != 200:
                raise LinkedPayloadUnavailable(
                    f"the linked payload answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise AdapterError(f"the linked payload is larger than {max_bytes} bytes")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise AdapterError(f"the linked payload is larger than {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise LinkedPayloadUnavailable(
            f"the linked payload could not be downloaded: {type(exc).__name__}") from exc
    try:
        payload = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdapterError("the linked payload is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise AdapterError("the linked payload is not a JSON object")
    return payload
