"""Shared browser assets: `static/` is served at `/static` (base.css, small JS modules).

Each domain may also ship a `static/` folder of its own (e.g. `monitoring/static/`); all
of them are served under the same `/static` prefix, this folder first, then the domains
in `STATIC_DOMAINS` order, so file names must be unique across them. Swagger UI's files
(for /docs, from the pinned `swagger-ui-bundle` package) come last.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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
    packages.append(("swagger_ui_bundle", swagger_ui_folder()))
    return StaticFiles(packages=packages)


def swagger_ui_folder() -> str:
    """Swagger UI's folder inside the swagger_ui_bundle package (named by its version)."""
    import swagger_ui_bundle  # type: ignore[import-untyped]

    root = Path(swagger_ui_bundle.__file__).parent
    return Path(swagger_ui_bundle.swagger_ui_path).relative_to(root).as_posix()
