"""Message bodies for each destination kind, from an event's payload. Pure: no I/O."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _headline(payload: dict[str, Any]) -> tuple[str, str, str]:
    """(headline, detail, link) for people reading a chat message or an e-mail."""
    kind = str(payload.get("type", "event"))
    data = payload.get("data") or {}
    link = str(data.get("dashboard_url") or "")
    if kind.startswith("alert."):
        state = "FIRING" if kind == "alert.firing" else "RESOLVED"
        if data.get("test"):
            state = "TEST"
        head = f"[{state}] {data.get('title', data.get('rule', 'alert'))}"
        if data.get("severity"):
            head += f" ({data['severity']})"
        detail = str(data.get("message", ""))
        return head, detail, link
    return kind, json.dumps(data, sort_keys=True)[:2000], link


def slack_body(payload: dict[str, Any]) -> bytes:
    head, detail, link = _headline(payload)
    text = f"{head}: {detail}" if detail else head
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (detail or head)[:2900]}},
    ]
    if link:
        text += f" <{link}|Open the dashboard>"
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the dashboard"},
            "url": link}]})
    blocks.append({"type": "context", "elements": [{
        "type": "mrkdwn", "text": f"vitaltrust · {payload.get('timestamp', '')}"}]})
    return json.dumps({"text": text, "blocks": blocks}).encode()


def email_message(payload: dict[str, Any]) -> Email:
    head, detail, link = _headline(payload)
    lines = [head, "", detail]
    if link:
        lines += ["", f"Dashboard: {link}"]
    lines += ["", f"Sent by vitaltrust at {payload.get('timestamp', '')}."]
    body_html = (f"<h2>{html.escape(head)}</h2><p>{html.escape(detail)}</p>"
                 + (f'<p><a href="{html.escape(link, quote=True)}">Open the dashboard</a></p>'
                    if link else "")
                 + f"<p><small>Sent by vitaltrust at {html.escape(str(payload.get('timestamp', '')))}"
                   "</small></p>")
    return Email(subject=f"vitaltrust {head}", text="\n".join(lines) + "\n", html=body_html)
