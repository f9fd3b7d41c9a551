"""create_app(settings, store=None): the gateway as one ASGI app.

Stack, outermost first: forwarded headers from trusted proxies -> compression -> ConsentMiddleware (consent
API under the prefix, server-side blocking for everything else) -> the site: the reverse proxy when an
upstream is set, the demo site in demo mode, else nothing but the consent API (the embedded-banner deployment).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .admin import admin_routes
from .compression import CompressionMiddleware
from .forwarded import ForwardedHeaders
from .middleware import ConsentMiddleware
from .proxy import ReverseProxy
from .runtime import Gateway
from .settings import Settings
from .store import ConsentStore

log = logging.getLogger("gateway")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def create_app(settings: Settings, store: ConsentStore | None = None) -> ASGIApp:
    gateway = Gateway(settings, store)
    gpc = Route("/.well-known/gpc.json", _gpc_json(settings))
    site: ASGIApp
    proxy = None
    if settings.upstream:
        proxy = ReverseProxy(settings.upstream, trusted_proxies=settings.trusted_proxies)
        site = _WellKnown(gpc, proxy)
    else:
        site = Starlette(routes=[gpc, *_site_routes(settings)])
    consent = ConsentMiddleware(site, gateway=gateway, serve_api=False)
    consent.api = gateway.consent_app(admin_routes(token=settings.admin_token, store=gateway.store,
                                                   metrics=gateway.metrics, timezone=settings.timezone))
    app = ForwardedHeaders(CompressionMiddleware(consent), settings.trusted_proxies)
    app.gateway = gateway  # type: ignore[attr-defined]
    app.proxy = proxy  # type: ignore[attr-defined]
    return app


def _site_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    if settings.demo:
        demo_dir = settings.static_dir / "demo"
        routes += [
            Route("/_demo/pixel.gif", _pixel),
            Mount("/_demo", app=StaticFiles(directory=demo_dir)),
            Route("/", _page((demo_dir / "index.html").read_bytes())),
        ]
    else:
        routes.append(Route("/", lambda r: PlainTextResponse(
            f"Consent gateway. Embed: <script src=\"{settings.prefix}/banner.js\" defer></script>")))
    return routes


def _gpc_json(settings: Settings) -> Any:
    async def endpoint(request: Request) -> Response:
        return JSONResponse({"gpc": True, "lastUpdate": settings.policy_version})

    return endpoint


def _page(body: bytes) -> Any:
    """The demo's home page, read once at start-up."""

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8")

    return endpoint


async def _pixel(request: Request) -> Response:
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


class _WellKnown:
    """Answers /.well-known/gpc.json itself and hands everything else to the proxy."""

    def __init__(self, route: Route, app: ASGIApp) -> None:
        self.route = route
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.route.path:
            await self.route.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)
