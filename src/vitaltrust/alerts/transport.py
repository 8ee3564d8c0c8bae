"""Sending one message: HTTP POST (webhook, Slack) or SMTP (e-mail), with hard limits.

HTTP: a per-target time-out for the whole exchange, at most `max_response_bytes` of the
reply read, redirects followed only to the same scheme, host and port (at most 3).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urljoin

import httpx

from vitaltrust.alerts.render import Email
from vitaltrust.alerts.secrets import same_origin
from vitaltrust.config import Settings

MAX_REDIRECTS = 3
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    duration_ms: float
    error: str | None = None
    retry_after: float | None = None


async def _read_limited(resp: httpx.Response, limit: int) -> bytes:
    got = bytearray()
    async for chunk in resp.aiter_bytes():
        got += chunk
        if len(got) >= limit:
            return bytes(got[:limit])
    return bytes(got)


async def post(url: str, body: bytes, headers: dict[str, str], *, limit_seconds: float,
               max_response_bytes: int) -> Outcome:
    t0 = time.perf_counter()

    def done(ok: bool, code: int | None, error: str | None = None,
             retry_after: float | None = None) -> Outcome:
        return Outcome(ok, code, (time.perf_counter() - t0) * 1000,
                       error[:MAX_ERROR_CHARS] if error else None, retry_after)

    headers = {**headers, "user-agent": "vitaltrust-outbound/1"}
    try:
        async with asyncio.timeout(limit_seconds), httpx.AsyncClient(
                follow_redirects=False, timeout=limit_seconds, trust_env=False) as client:
            target = url
            for _ in range(MAX_REDIRECTS + 1):
                async with client.stream("POST", target, content=body, headers=headers) as resp:
                    await _read_limited(resp, max(max_response_bytes, 1))
                    code = resp.status_code
                    if 300 <= code < 400 and "location" in resp.headers:
                        nxt = urljoin(target, resp.headers["location"])
                        if not same_origin(url, nxt):
                            return done(False, code, f"redirect to another host refused: {nxt}")
                        target = nxt
                        continue
                    if 200 <= code < 300:
                        return done(True, code)
                    return done(False, code, f"HTTP {code}", _retry_after(resp))
            return done(False, code, f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        return done(False, None, f"timed out after {limit_seconds:g} s")
    except httpx.HTTPError as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}")


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "")
    try:
        return max(0.0, min(float(value), 3600.0)) if value else None
    except ValueError:
        return None


def _send_smtp(settings: Settings, to: str, mail: Email, headers: dict[str, str],
               timeout: float) -> None:
    if not settings.smtp_host:
        raise RuntimeError("VITALTRUST_SMTP_HOST is not set")
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = mail.subject
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(msg)


async def send_email(settings: Settings, to: str, mail: Email, headers: dict[str, str], *,
                     limit_seconds: float) -> Outcome:
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(limit_seconds):
            await asyncio.to_thread(_send_smtp, settings, to, mail, headers, limit_seconds)
    except TimeoutError:
        return Outcome(False, None, (time.perf_counter() - t0) * 1000,
                       f"SMTP timed out after {limit_seconds:g} s")
    except (OSError, smtplib.SMTPException, RuntimeError) as exc:
        return Outcome(False, None, (time.perf_counter() - t0) * 1000,
                       f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    return Outcome(True, 250, (time.perf_counter() - t0) * 1000)
