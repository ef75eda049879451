"""The conflict-resolution console at ``/console``: static ES modules that talk only to the
GraphQL API, and the operation documents they send, read from ``graphql/operations/``.

``mount_console(app)`` adds the routes to the API app:

- ``GET /console`` (and ``/console/``): the page (``static/index.html``);
- ``GET /console/static/...``: the stylesheet and the modules (package data);
- ``GET /console/operations/{name}.graphql``: an operation document, from the same files the
  schema contract test validates, so the console never carries a query of its own.

Every console response carries a Content-Security-Policy that allows nothing but this origin:
the page loads no script, style or font from anywhere else, and has no inline script.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.store.migrate import PROJECT_ROOT

STATIC_DIR = Path(__file__).resolve().parent / "static"
OPERATIONS_DIR = PROJECT_ROOT / "graphql" / "operations"
# A document name is a plain file stem: nothing that could walk out of the folder.
_OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # 'self' covers the same origin's ws:/wss: (the GraphQL subscriptions).
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The page and the documents change with the code: always revalidate (ETag / Last-Modified),
# so an upgraded server never runs an old module against a new schema.
_STATIC_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}


class _SecureStatic:
    """The static files, with the console's security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in _STATIC_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


def operation_path(name: str) -> Path | None:
    """The operation document ``name`` (without ``.graphql``), if there is one."""
    if not _OPERATION_NAME.match(name):
        return None
    path = OPERATIONS_DIR / f"{name}.graphql"
    return path if path.is_file() else None


def mount_console(app: FastAPI, *, prefix: str = "/console") -> None:
    """Serve the console under ``prefix`` on ``app`` (the API app, beside ``/graphql``)."""

    @app.get(prefix, include_in_schema=False)
    async def console_root() -> RedirectResponse:
        # Relative module URLs in the page resolve against the folder, so it ends with "/".
        return RedirectResponse(f"{prefix}/", status_code=308)

    @app.get(f"{prefix}/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html", media_type="text/html", headers=_STATIC_HEADERS
        )

    @app.get(f"{prefix}/operations/{{name}}.graphql", include_in_schema=False)
    async def console_operation(name: str) -> FileResponse:
        path = operation_path(name)
        if path is None:
            raise HTTPException(status_code=404, detail="no such operation document")
        return FileResponse(
            path, media_type="application/graphql; charset=utf-8", headers=_STATIC_HEADERS
        )

    app.mount(
        f"{prefix}/static",
        _SecureStatic(StaticFiles(directory=STATIC_DIR)),
        name="console-static",
    )
