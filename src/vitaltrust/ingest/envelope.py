"""The cheap look at a delivery the request path needs: its event type and account.

Parsing into samples happens in the webhook_processing job; here only the top level of
the (already parsed) JSON object is read.
"""

from __future__ import annotations

from typing import Any

MAX_ACCOUNT_LEN = 200

# the summary lists of Garmin's Health API spec (both spellings of pulse ox); the adapter
# reads any list, this is only the request path's cheap look
GARMIN_LISTS = ("bodyComps", "dailies", "epochs", "sleeps", "hrv", "bloodPressures", "pulseOx",
                "pulseox", "userMetrics", "stressDetails", "allDayRespiration", "skinTemp",
                "healthSnapshot", "activities", "moveiq", "deregistrations",
                "userPermissionsChange")


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        text = str(value).replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
        return text[:MAX_ACCOUNT_LEN] if text else None
    return None


def event_type(kind: str, payload: dict[str, Any]) -> str | None:
    if kind == "junction":
        found = _text(payload.get("event_type"))
    elif kind == "garmin":
        found = ",".join(k for k in GARMIN_LISTS if payload.get(k)) or None
    else:
        found = _text(payload.get("type"))
    return found[:100] if found else None


def account_of(kind: str, payload: dict[str, Any]) -> str | None:
    """The provider account a delivery is about, for the per-account rate limit.

    None means "no single account": only the per-source limit applies. Garmin batches
    several users into one push, so its account is used only when all entries agree.
    """
    if kind == "standard":
        return _text(payload.get("user"))
    if kind == "junction":
        return _text(payload.get("client_user_id")) or _text(payload.get("user_id"))
    if kind == "terra":
        user = payload.get("user")
        if isinstance(user, dict):
            return _text(user.get("reference_id")) or _text(user.get("user_id"))
        return None
    if kind == "garmin":
        ids = {_text(item.get("userId")) for key in GARMIN_LISTS
               if isinstance(payload.get(key), list)
               for item in payload[key] if isinstance(item, dict)}
        return ids.pop() if len(ids) == 1 else None
    return None
