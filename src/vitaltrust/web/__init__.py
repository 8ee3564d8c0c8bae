"""Shared browser assets: `static/` is served at `/static` (base.css, small JS modules).

Each domain may also ship a `static/` folder of its own (e.g. `monitoring/static/`); all
of them are served under the same `/static` prefix, this folder first, then the domains
in `STATIC_DOMAINS` order, so file names must be unique across them.
"""

from __future__ import annotations

from importlib import resources

from starlette.staticfiles import StaticFiles

STATIC_DOMAINS = ("web", "monitoring", "auth", "trainer", "metrics", "confidence", "ops")


def static_files() -> StaticFiles:
    """One StaticFiles app searching every domain's `static/` folder that exists."""
    packages: list[str | tuple[str, str]] = []
    for domain in STATIC_DOMAINS:
        try:
            folder = resources.files(f"vitaltrust.{domain}") / "static"
        except ModuleNotFoundError:
            continue
        if folder.is_dir():
            packages.append((f"vitaltrust.{domain}", "static"))
    return StaticFiles(packages=packages)
