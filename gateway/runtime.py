"""Gateway: everything built once from Settings (signer, catalogue, texts, assets, store, metrics).

Shared by create_app and ConsentMiddleware so both paths read consent, render the banner tag and answer
the consent API identically. The store is opened and closed by the ASGI lifespan, never per request.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount

from .api import ConsentAPI
from .assets import StaticAsset
from .csp import CspBuilder
from .decision import Decision
from .errors import GatewayError, gateway_error_handler, store_error_handler
from .locales import build_configs
from .metrics import Metrics
from .settings import Settings, SettingsError
from .signing import CookieSigner
from .store import ConsentStore, StoreError, open_store
from .timing import LatencyMiddleware
from .vendors import Catalogue
from .visitor import VisitorReader

log = logging.getLogger("gateway")


class Gateway:
    def __init__(self, settings: Settings, store: ConsentStore | None = None) -> None:
        if not settings.secret_keys:
            raise SettingsError("no signing key: set GATEWAY_SECRET_KEYS (make one with `consent-gateway keygen`)")
        self.settings = settings
        self.metrics = Metrics()
        self.signer = CookieSigner(settings.secret_keys, settings.validity_seconds)
        self.reader = VisitorReader(settings, self.signer, self.metrics)
        try:
            self.catalogue = Catalogue.load(settings.config_file("vendors.toml"), settings.vendor_overrides)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        try:
            self.configs = build_configs(lambda lang: settings.config_file(f"locales/{lang}.toml"),
                                         settings.languages, settings.categories,
                                         self._vendor_lists, settings.policy_url, settings.policy_version)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        banner = settings.static_dir / "banner"
        self.assets = {"banner.js": StaticAsset(banner / "banner.js", "text/javascript"),
                       "banner.css": StaticAsset(banner / "banner.css", "text/css")}
        self.store = store if store is not None else open_store(settings.database_url, settings.timezone)
        self.csp = CspBuilder(self.catalogue, settings.categories, (), f"{settings.prefix}/csp-report",
                              settings.csp_mode)
        self.api = ConsentAPI(settings, self.signer, self.reader, self.store, self.metrics, self.catalogue,
                              self.configs, self.assets)
        self.banner_src = f"{settings.prefix}/banner.js?v={self.assets['banner.js'].version}"
        self._started = False

    async def startup(self) -> None:
        if not self._started:
            if self.settings.database_url.startswith("sqlite:///"):
                Path(self.settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            await self.store.open()
            self._started = True

    async def shutdown(self) -> None:
        if self._started:
            await self.store.close()
            self._started = False

    def consent_app(self, extra_routes: list[BaseRoute] | None = None) -> Starlette:
        """The routes under the prefix, with CORS for the configured origins only (credentials, no wildcard)."""
        routes = [*self.api.routes(), *(extra_routes or [])]
        return Starlette(
            routes=[Mount(self.settings.prefix, routes=routes)],
            exception_handlers={GatewayError: gateway_error_handler, StoreError: store_error_handler},
            middleware=[Middleware(CORSMiddleware, allow_origins=list(self.settings.origins), allow_credentials=True,
                                   allow_methods=["GET", "PUT", "DELETE", "POST"], allow_headers=["Content-Type"],
                                   max_age=600),
                        Middleware(LatencyMiddleware, histogram=self.metrics.latency, prefix=self.settings.prefix,
                                   paths=[getattr(r, "path", "") for r in routes])],
        )

    def _vendor_lists(self, lang: str) -> dict[str, list[dict[str, str]]]:
        """Each category's vendors as the banner lists them, purposes in ``lang`` (English when untranslated)."""
        lists: dict[str, list[dict[str, str]]] = {}
        for v in self.catalogue.vendors:
            lists.setdefault(v.category, []).append(
                {"name": v.name, "purpose": v.purpose_for(lang), "policy_url": v.policy_url})
        return lists

    def placeholder(self, lang: str) -> str:
        """Iframe placeholder text; its last sentence is the button label."""
        texts = self.configs[lang].texts
        return f"{texts['placeholder']} {texts['load']}"

    def category_labels(self, lang: str) -> tuple[tuple[str, str], ...]:
        return tuple(self.configs[lang].category_titles.items())

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one Gateway per app; few distinct decisions and nonces
    def early_html(self, decision: Decision, nonce: str | None) -> str:
        """Consent Mode defaults from the verified cookie, before the page's first script runs."""
        attr = f' nonce="{nonce}"' if nonce else ""
        mode = json.dumps(dict(decision.consent_mode), separators=(",", ":"))
        return (f"<script{attr}>window.dataLayer=window.dataLayer||[];"
                f"function gtag(){{dataLayer.push(arguments);}}gtag('consent','default',{mode});</script>")

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def head_html(self, decision: Decision, nonce: str | None) -> str:
        """The banner script, before </head>; nothing for bots."""
        if not decision.show_banner:
            return ""
        attr = f' nonce="{nonce}"' if nonce else ""
        admits = ""
        if self.csp.enabled and self.csp.header == "Content-Security-Policy" and decision.decided:
            granted = [c for c in self.settings.categories if c not in decision.blocked]
            admits = f' data-consent-csp="{" ".join(granted)}"'
        return f'<script{attr} src="{self.banner_src}"{admits} defer></script>'
