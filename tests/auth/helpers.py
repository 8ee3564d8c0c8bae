"""Small helpers for the auth tests: log in through the real endpoint, read cookies."""

from __future__ import annotations

import hashlib
from http.cookies import SimpleCookie

import httpx

PASSWORD = "correct horse battery"  # what tests.conftest.make_user sets


def sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """name -> attributes (lower-case keys; flags as True) of every Set-Cookie header."""
    out: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attrs: dict[str, str | bool] = {"value": morsel.value}
            for part in header.split(";")[1:]:
                key, _, val = part.strip().partition("=")
                attrs[key.lower()] = (val.lower() if key.lower() == "samesite" else val) or True
            out[name] = attrs
    return out


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD,
                **extra: object) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password, **extra})


async def login_ok(client: httpx.AsyncClient, email: str) -> str:
    """Log in (the client keeps the cookies) and return the CSRF token."""
    r = await login(client, email)
    assert r.status_code == 200, r.text
    token: str = r.json()["csrf_token"]
    return token
