"""Provider adapters: pure functions from a parsed payload to an `AdapterResult`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vitaltrust.ingest.adapters.garmin import adapt_garmin
from vitaltrust.ingest.adapters.junction import adapt_junction
from vitaltrust.ingest.adapters.standard import adapt_standard
from vitaltrust.ingest.adapters.terra import adapt_terra, terra_linked_url
from vitaltrust.metrics.types import AdapterResult

Adapter = Callable[[dict[str, Any]], AdapterResult]

ADAPTERS: dict[str, Adapter] = {
    "standard": adapt_standard,
    "junction": adapt_junction,
    "terra": adapt_terra,
    "garmin": adapt_garmin,
}

# kinds whose deliveries may only link to the payload: kind -> the link, if any (pure)
LINKS: dict[str, Callable[[dict[str, Any]], str | None]] = {"terra": terra_linked_url}


def linked_payload_url(kind: str, payload: dict[str, Any]) -> str | None:
    find = LINKS.get(kind)
    return find(payload) if find is not None else None


__all__ = ["ADAPTERS", "Adapter", "adapt_garmin", "adapt_junction", "adapt_standard",
           "adapt_terra", "linked_payload_url"]
