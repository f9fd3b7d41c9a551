"""The composition root: every part of the gateway is built and wired here, once, from Settings.

``create_app(settings, store=None)`` is the whole gateway as one ASGI app. Stack, outermost first: the access
log (when on; it sees every answer, the 400 for an unknown host too, and the client address that the next layer
takes from trusted proxies) -> forwarded headers from trusted proxies -> compression -> BlockingMiddleware
(consent API under the prefix, server-side blocking for everything else) -> the site: the reverse proxy when an
upstream is set, the demo site in demo mode, else nothing but the consent API (the embedded-banner deployment).
An HTTP request runs these layers in one pass (``gateway.pipeline``); other scopes go through them nested.

``ConsentMiddleware`` is what a Starlette/FastAPI app adds (``app.add_middleware(ConsentMiddleware,
settings=...)``): the same parts around the app's own responses. Both own the store through the ASGI lifespan.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .accesslog import AccessLog
from .admin import admin_routes
from .api import ConsentAPI, Limits
from .assets import StaticAsset
from .compression import CompressionMiddleware
from .csp import CspBuilder
from .deadline import BodyDeadline
from .errors import GatewayError, gateway_error_handler, store_error_handler
from .forwarded import ForwardedHeaders
from .hosts import AllowedHosts, SecurityHeaders
from .linewriter import FileSink, LineWriter
from .locales import build_configs
from .metrics import Metrics
from .middleware import BlockingMiddleware
from .pipeline import Pipeline
from .plans import Planner
from .proxy import ReverseProxy
from .ratelimit import DailyCap, TokenBuckets
from .resources import CONFIG_DIR
from .revocations import RevocationRefresher, Revocations
from .settings import Settings, SettingsError
from .signing import CookieSigner
from .store import ConsentStore, StoreError, open_store
from .timing import LatencyMiddleware
from .vendors import Catalogue
from .visitor import VisitorReader

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class Components:
    """The gateway's parts, built once from Settings: signer, catalogue, texts, assets, CSP, planner, store,
    metrics and the consent API. The store is opened and closed by the lifespan, never per request."""

    def __init__(self, settings: Settings, store: ConsentStore | None = None) -> None:
        if not settings.secret_keys:
            raise SettingsError("no signing key: set GATEWAY_SECRET_KEYS (make one with `consent-gateway keygen`)")
        self.settings = settings
        self.metrics = Metrics()
        self.signer = CookieSigner(settings.secret_keys, settings.validity_seconds)
        validity = timedelta(days=settings.validity_days)
        self.revocations = Revocations(validity)  # withdrawn and erased ids, refreshed from the store
        self.visitors = VisitorReader(settings, self.signer, self.metrics, self.revocations)
        try:
            self.catalogue = Catalogue.load(settings.config_file("vendors.toml"), settings.vendor_overrides)
            configs = build_configs(lambda lang: settings.config_file(f"locales/{lang}.toml"),
                                    settings.languages, settings.categories, self._vendor_lists,
                                    settings.policy_url, settings.policy_version,
                                    declaration_url=f"{settings.prefix}/declaration",
                                    shipped_file=lambda lang: CONFIG_DIR / "locales" / f"{lang}.toml")
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        banner = settings.static_dir / "banner"
        assets = {"banner.js": StaticAsset(banner / "banner.js", "text/javascript"),
                  "banner.css": StaticAsset(banner / "banner.css", "text/css")}
        self.banner_src = f"{settings.prefix}/banner.js?v={assets['banner.js'].version}"
        self.store = store if store is not None else open_store(settings.database_url, settings.timezone)
        self.csp = CspBuilder(self.catalogue, settings.categories, (), f"{settings.prefix}/csp-report",
                              settings.csp_mode, settings.csp_first_visit)
        self.planner = Planner(
            catalogue=self.catalogue, categories=settings.categories, first_party=settings.first_party_hosts,
            configs=configs, languages=settings.languages, default_language=settings.default_language,
            banner_path=f"{settings.prefix}/banner.js", banner_src=self.banner_src,
            csp_in_tag=self.csp.enabled and self.csp.header == "Content-Security-Policy",
            csp_strict_first_visit=self.csp.strict_first_visit,
            state_path=f"{settings.prefix}/state", policy_url=settings.policy_url)
        limits = Limits(writes=TokenBuckets(settings.rate_limit_writes),
                        reports=TokenBuckets(settings.rate_limit_reports), hosts_per_report=settings.csp_report_hosts,
                        csp_hosts=DailyCap(settings.csp_hosts_per_day))
        self.api = ConsentAPI(settings, self.signer, self.visitors, self.store, self.metrics, self.catalogue,
                              configs, assets, limits, revocations=self.revocations)
        self.refresher = RevocationRefresher(self.revocations, self.store.revoked_since,
                                             settings.revocation_refresh_seconds, validity)
        self._started = False

    async def startup(self) -> None:
        if not self._started:
            if self.settings.database_url.startswith("sqlite:///"):
                Path(self.settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            await self.store.open()
            await self.refresher.start()
            self._started = True

    async def shutdown(self) -> None:
        if self._started:
            await self.refresher.stop()
            await self.store.close()
            self._started = False

    def consent_app(self, extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
        """The routes under the prefix, with CORS for the configured origins only (credentials, no wildcard), and
        a deadline on request bodies (a client that trickles one in is answered 408)."""
        s = self.settings
        routes = [*self.api.routes(), *extra_routes]
        return BodyDeadline(Starlette(
            routes=[Mount(s.prefix, routes=routes)],
            exception_handlers={GatewayError: gateway_error_handler, StoreError: store_error_handler},
            middleware=[Middleware(SecurityHeaders),
                        Middleware(CORSMiddleware, allow_origins=list(s.origins), allow_credentials=True,
                                   allow_methods=["GET", "PUT", "DELETE", "POST"], allow_headers=["Content-Type"],
                                   max_age=600),
                        Middleware(LatencyMiddleware, histogram=self.metrics.latency, prefix=s.prefix,
                                   paths=[getattr(r, "path", "") for r in routes])],
        ), timeout=s.body_timeout, min_rate=s.body_min_rate)

    def blocking(self, app: ASGIApp, api: ASGIApp | None) -> BlockingMiddleware:
        return BlockingMiddleware(app, visitors=self.visitors, planner=self.planner, csp=self.csp,
                                  cookie_category=self.catalogue.category_for_cookie, api=api,
                                  prefix=self.settings.prefix)

    def _vendor_lists(self, lang: str) -> dict[str, list[dict[str, object]]]:
        """Each category's vendors as the banner lists them, purposes in ``lang`` (English when untranslated),
        with the country their data go to and whether that is a transfer out of Kazakhstan (None: unknown)."""
        lists: dict[str, list[dict[str, object]]] = {}
        for v in self.catalogue.vendors:
            lists.setdefault(v.category, []).append(
                {"name": v.name, "purpose": v.purpose_for(lang), "policy_url": v.policy_url, "country": v.country,
                 "cross_border": v.cross_border})
        return lists


class GatewayApp(Pipeline):
    """The ASGI app ``create_app`` returns: the layers' one-pass pipeline for HTTP (so a request pays no frame of
    its own here), the nested chain for the rest; ``startup``/``shutdown`` open and close what the lifespan owns."""

    def __init__(self, settings: Settings, store: ConsentStore | None = None) -> None:
        self.components = Components(settings, store)
        gpc = Route("/.well-known/gpc.json", _gpc_json(settings))
        site: ASGIApp
        own: dict[str, ASGIApp] | None = None
        self.proxy: ReverseProxy | None = None
        if settings.upstream:
            self.proxy = ReverseProxy(settings.upstream, trusted=settings.trusted,
                                      buffer_body=settings.proxy_buffer_body, body_timeout=settings.body_timeout,
                                      body_min_rate=settings.body_min_rate, max_html_bytes=settings.max_html_bytes)
            site = _WellKnown(gpc, self.proxy)
            own = {gpc.path: gpc.handle}  # the pipeline takes _WellKnown apart: no frame of its own per request
        else:
            site = Starlette(routes=[gpc, *_site_routes(settings)])
        c = self.components
        api = c.consent_app(admin_routes(token=settings.admin_token, store=c.store, metrics=c.metrics,
                                         timezone=settings.timezone, failures_per_minute=settings.admin_failures,
                                         default_language=settings.default_language, languages=settings.languages))
        self.blocking = c.blocking(site, api)
        compression = CompressionMiddleware(self.blocking)
        hosts = AllowedHosts(compression, settings.hosts)
        forwarded = ForwardedHeaders(hosts, settings.trusted)
        chain: ASGIApp = forwarded
        self.access_log: LineWriter | None = None
        log = None
        if settings.access_log:
            self.access_log = LineWriter(_access_sink(settings.access_log_path))
            chain = log = AccessLog(forwarded, self.access_log, settings.access_log_format, settings.ip_truncation)
        self.nested = chain
        super().__init__(self._other_scopes, forwarded=forwarded, hosts=hosts, compression=compression,
                         blocking=self.blocking, log=log, site=self.proxy if own else None, own=own)

    async def startup(self) -> None:
        if self.access_log is not None:
            self.access_log.start()
        await self.components.startup()
        if self.proxy is not None:
            await self.proxy.startup()

    async def shutdown(self) -> None:
        if self.proxy is not None:
            await self.proxy.aclose()
        await self.components.shutdown()
        if self.access_log is not None:
            self.access_log.close()  # the last lines, those of the requests that ended while shutting down

    async def _other_scopes(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(self.nested, scope, receive, send, self.startup, self.shutdown)
        else:
            await self.nested(scope, receive, send)


def create_app(settings: Settings, store: ConsentStore | None = None) -> GatewayApp:
    return GatewayApp(settings, store)


class ConsentMiddleware:
    """``app.add_middleware(ConsentMiddleware, settings=settings)``: blocking, the consent API under the prefix,
    and the consent log opened in the app's lifespan; the visitor's state at ``request.state.consent``."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None, store: ConsentStore | None = None) -> None:
        if settings is None:
            raise TypeError("ConsentMiddleware needs settings= (gateway.settings.load_settings())")
        self.components = Components(settings, store)
        c = self.components
        self._app = c.blocking(app, c.consent_app())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            c = self.components
            await _lifespan(self._app, scope, receive, send, c.startup, c.shutdown)
        else:
            await self._app(scope, receive, send)


Hook = Callable[[], Awaitable[None]]


async def _lifespan(app: ASGIApp, scope: Scope, receive: Receive, send: Send, startup: Hook, shutdown: Hook) -> None:
    """Run ``startup`` when the server's lifespan starts and ``shutdown`` when it ends, around the inner app's
    own lifespan (the site's Starlette app or the proxy answers the messages)."""

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await startup()
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
        return message

    await app(scope, wrapped, send)


def _access_sink(path: str) -> FileSink:
    """stdout, or the file ``access_log_path`` opened now, so a path that cannot be written fails at start-up."""
    try:
        return FileSink(path)
    except OSError as exc:
        raise SettingsError(f"access_log_path: cannot open {path!r}: {exc.strerror}") from None


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
