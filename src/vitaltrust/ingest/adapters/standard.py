"""Our native body (DESIGN.md), signed with Standard Webhooks.

{"type": "samples", "user": "<external id>", "samples": [{"metric", "value", "unit",
 "measured_at", "device": {"type", "model"}, "id"}]}

The same body inside the payload structure the Standard Webhooks spec recommends,
{"type": "samples", "timestamp": ..., "data": {"user", "samples"}}, is accepted too; any
other `type` ("contact.created", ...) is a notification without samples.
"""

from __future__ import annotations

from typing import Any

from vitaltrust.ingest.adapters.common import Collector, as_dict, device, text
from vitaltrust.metrics.types import AdapterError, AdapterResult


def adapt_standard(payload: dict[str, Any]) -> AdapterResult:
    inner = as_dict(payload.get("data"))
    if "samples" not in payload and "samples" in inner:
        payload = {**inner, "type": payload.get("type", "samples")}
    kind = payload.get("type", "samples")
    user = text(payload.get("user"))
    if kind != "samples":
        return AdapterResult(event_type=str(kind), account_ids=frozenset({user} if user else ()),
                             notification_only=True)
    samples = payload.get("samples")
    if not isinstance(samples, list):
        raise AdapterError("'samples' must be a list")
    out = Collector()
    for index, item in enumerate(samples):
        if not isinstance(item, dict):
            out.reject("a sample must be an object", index=index)
            continue
        owner = text(item.get("user")) or user
        metric = item.get("metric")
        if owner is None:
            out.reject("no user for this sample", index=index)
            continue
        if not isinstance(metric, str) or not metric:
            out.reject("missing metric", index=index, user=owner)
            continue
        unit = item.get("unit")
        dev = as_dict(item.get("device"))
        model = dev.get("model")
        value = item.get("value")
        if value is None:
            out.reject("missing value", index=index, metric=metric, user=owner)
            continue
        out.accounts.add(owner)
        out.add(owner, metric, value, unit if isinstance(unit, str) else None,
                item.get("measured_at"), device_type=device(dev.get("type")),
                device_model=model if isinstance(model, str) else None,
                sample_id=text(item.get("id")))
    if user:
        out.accounts.add(user)
    return AdapterResult(event_type="samples", samples=out.samples, rejections=out.rejections,
                         account_ids=frozenset(out.accounts))
