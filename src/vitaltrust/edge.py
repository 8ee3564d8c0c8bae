"""The request edge: refuse what PostgreSQL cannot hold before any route or query sees it.

One ASGI middleware (`EdgeGuard`) runs in front of every route:
- the path, the query string and the header values must not contain NUL (`%00`);
- a JSON body (declared, or undeclared but starting with `{` / `[`) must nest at most
  `MAX_JSON_DEPTH` levels, hold no NUL and no lone surrogate (`\\ud800`..`\\udfff`) in any
  key or string, no `NaN` / `Infinity` and no number a float cannot hold;
- a form body must be UTF-8 without NUL.
Each refusal is a 400 problem+json sent before the application runs, so nothing is stored.

Signed routes (`/webhooks/...`) read their own body: their signature is checked on the raw
bytes first, then the route parses it with `loads_checked`, the same rules as here.
Every response also gets `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from vitaltrust.errors import Problem, problem_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 308  # an integer longer than this cannot become a float
NOSNIFF = (b"x-content-type-options", b"nosniff")
SIGNED_PREFIXES = ("/webhooks/",)
FORM = "application/x-www-form-urlencoded"

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def bad_text(text: str) -> str | None:
    """Why PostgreSQL text cannot hold `text` (None: it can)."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (\\ud800-\\udfff)"
    return None


def _refuse(where: str, why: str) -> Problem:
    return Problem(400, f"{where} contains {why}, which cannot be stored",
                   title="Unstorable input")


def check_text(text: str, where: str) -> None:
    why = bad_text(text)
    if why is not None:
        raise _refuse(where, why)


def json_depth_ok(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether every bracket of `body` closes within `limit` levels (without recursion).

    Strings are cut out, then innermost pairs removed once per level; a body whose
    brackets do not reduce to nothing in `limit` rounds is too deep or unbalanced.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return True
    skeleton = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not skeleton:
            return True
        reduced = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if reduced == skeleton:
            return False
        skeleton = reduced
    return not skeleton


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is out of range")
    return int(text)


def _find_bad_string(value: Any) -> str | None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            why = bad_text(item)
            if why is not None:
                return why
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def loads_checked(body: bytes, where: str = "the JSON body") -> Any:
    """`json.loads` that refuses (Problem 400) what we could not store or process later."""
    if not json_depth_ok(body):
        raise Problem(400, f"{where} is unbalanced or nested deeper than {MAX_JSON_DEPTH} levels",
                      title="Invalid JSON")
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except RecursionError:  # unreachable after the depth check; never let it escape
        raise Problem(400, f"{where} is nested too deeply", title="Invalid JSON") from None
    except UnicodeDecodeError:
        raise Problem(400, f"{where} is not UTF-8 text", title="Invalid JSON") from None
    except ValueError as exc:
        raise Problem(400, f"{where} is not valid JSON: {str(exc)[:200]}",
                      title="Invalid JSON") from None
    if _SUSPECT_ESCAPE.search(body):
        why = _find_bad_string(value)
        if why is not None:
            raise _refuse(where, why)
    return value


def check_form(body: bytes) -> None:
    try:
        text = unquote_to_bytes(body.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "the form body is not UTF-8 text", title="Unstorable input") from None
    check_text(text, "the form body")


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).split(b";")[0].strip().lower().decode("latin-1")
    return ""


def _looks_json(media: str, body: bytes) -> bool:
    if media in ("application/json", "text/json") or media.endswith("+json"):
        return True
    return media in ("", "text/plain") and body.lstrip()[:1] in (b"{", b"[")


def check_request_line(scope: Scope) -> None:
    """Path, query string and header values: no NUL anywhere (percent-encoded or raw)."""
    path: str = scope.get("path", "")
    check_text(path, "the path")
    query: bytes = scope.get("query_string", b"")
    if query and (b"\x00" in query or b"%00" in query):
        raise _refuse("the query string", "a NUL character (%00)")
    for _, value in scope.get("headers", ()):
        if b"\x00" in value:
            raise _refuse("a header", "a NUL byte")


def check_body(media: str, body: bytes) -> None:
    if not body:
        return
    if media == FORM:
        check_form(body)
    elif _looks_json(media, body):
        loads_checked(body)


class EdgeGuard:
    """ASGI middleware: the checks above for every HTTP request, nosniff on every response."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == NOSNIFF[0] for k, _ in headers):
                    headers.append(NOSNIFF)
                message["headers"] = headers
            await send(message)

        try:
            check_request_line(scope)
            if scope.get("path", "").startswith(SIGNED_PREFIXES):
                await self.app(scope, receive, send_nosniff)
                return
            body = await self._read(receive)
            if body is None:  # the client went away before sending its body
                return
            check_body(_media_type(scope), body)
        except Problem as exc:
            response = problem_response(exc.status, exc.detail, title=exc.title,
                                        headers=exc.headers, instance=None)
            await response(scope, receive, send_nosniff)
            return
        await self.app(scope, _replay(body, receive), send_nosniff)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise Problem(413, f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
