"""Consent routes under the prefix: state, receipt, erase, events, CSP reports, config.json, vendors.json,
assets, health.

Writes check Origin, take JSON only, and are bounded in size; every refusal is a GatewayError turned into
a JSON body in one place (errors.py). Nothing is acknowledged before the store has committed it.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import errors
from .assets import StaticAsset
from .consent import ConsentState, new_consent_id, resolve_choice
from .declaration import Facts, Page, render, rows_for
from .locales import BannerConfig, negotiate
from .metrics import Metrics
from .openapi import openapi_endpoint
from .ratelimit import DailyCap, TokenBuckets
from .revocations import Revocations
from .scanfile import ScanSummary, read_scan
from .settings import Settings
from .signing import CookieSigner
from .store.records import BannerEvent, ConsentRecord, ConsentStore
from .trusted import truncate_ip
from .useragent import classify
from .vendors import Catalogue
from .visitor import VisitorReader
from .vocabulary import OPTIONAL

MAX_BODY = 4096
MAX_DEPTH = 16  # a consent choice nests 2 levels, a CSP report 3
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
KEPT_AFTER_ERASE = [
    {"what": "one 'erase' record: the random consent id and the time of this request",
     "why": "proof that the request to destroy the data was carried out (Law of RK No. 94-V, art. 24)"},
    {"what": "anonymous daily counts of decisions (no identifier, no address, no user-agent)",
     "why": "aggregate statistics that identify nobody are not personal data"},
]
NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie"}
FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 8
DECLARATION_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
                   "form-action 'self'")
logger = logging.getLogger("gateway.declaration")


@dataclass(frozen=True)
class Limits:
    """What one client network may send: consent writes, and impressions and CSP reports; how many hosts a CSP
    report may name, and how many distinct ones a day are kept by name (the rest count as "other"), so nothing
    a client sends can grow the log or falsify the dashboard without bound."""

    writes: TokenBuckets
    reports: TokenBuckets
    hosts_per_report: int
    csp_hosts: DailyCap

    @staticmethod
    def check(buckets: TokenBuckets, request: Request) -> None:
        key = truncate_ip(request.client.host if request.client else None) or "unknown"
        if wait := buckets.wait(key):
            raise errors.TooManyRequests(errors.TOO_MANY, headers={"Retry-After": str(math.ceil(wait))})


@dataclass(frozen=True)
class ConsentAPI:
    """The consent routes with their explicit dependencies; build once per app."""

    settings: Settings
    signer: CookieSigner
    reader: VisitorReader
    store: ConsentStore
    metrics: Metrics
    catalogue: Catalogue
    configs: dict[str, BannerConfig]
    assets: dict[str, StaticAsset]
    limits: Limits
    # Withdrawn and erased ids this process refuses at once; other processes within their refresh interval.
    revocations: Revocations | None = None

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/state", self.get_state, methods=["GET"]),
            Route("/state", self.put_state, methods=["PUT"]),
            Route("/state", self.delete_state, methods=["DELETE"]),
            Route("/state", self.post_state, methods=["POST"]),
            Route("/receipt", self.receipt, methods=["GET"]),
            Route("/erase", self.erase, methods=["POST"]),
            Route("/events", self.events, methods=["POST"]),
            Route("/csp-report", self.csp_report, methods=["POST"]),
            Route("/config.json", self.config_json, methods=["GET"]),
            Route("/vendors.json", self.vendors_json, methods=["GET"]),
            Route("/declaration", self.declaration, methods=["GET"]),
            Route("/banner.js", self.asset, methods=["GET"], name="banner.js"),
            Route("/banner.css", self.asset, methods=["GET"], name="banner.css"),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/openapi.json", openapi_endpoint(self.settings), methods=["GET"]),
        ]

    # -- reads -------------------------------------------------------------------------------------------

    def _visitor(self, request: Request) -> ConsentState:
        return self.reader.read(request.headers.get("cookie"), request.headers.get("sec-gpc"))

    def _state_json(self, state: ConsentState) -> dict[str, Any]:
        return state.to_json(self.settings.categories, timedelta(days=self.settings.validity_days))

    async def get_state(self, request: Request) -> Response:
        return JSONResponse(self._state_json(self._visitor(request)), headers=NO_STORE)

    async def receipt(self, request: Request) -> Response:
        state = self._visitor(request)
        if state.consent_id is None:
            raise errors.NotFound(errors.NO_CONSENT)
        rows = await self.store.history(state.consent_id)
        return JSONResponse({
            "consent_id": state.consent_id,
            "current": self._state_json(state),
            "records": [_record_json(r, self.settings.categories) for r in rows],
            "controller": self.settings.controller,
            "policy_url": self.settings.policy_url,
            **self._disclosure(),
        }, headers=NO_STORE)

    def _disclosure(self) -> dict[str, Any]:
        """What Law No. 94-V asks a consent to state: operator and BIN, term, and per category the recipients with
        the country their data go to and whether that is a cross-border transfer (None: not known)."""
        s = self.settings
        recipients = {c: [{"name": v.name, "country": v.country, "cross_border": v.cross_border}
                          for v in self.catalogue.vendors if v.category == c] for c in s.categories}
        return {"operator": {"name": s.controller, "bin": s.operator_bin or None}, "term_days": s.validity_days,
                "recipients": recipients, "declaration_url": f"{s.prefix}/declaration"}

    def _banner_config(self, request: Request) -> BannerConfig:
        lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"),
                         self.settings.languages, self.settings.default_language)
        return self.configs[lang]

    async def config_json(self, request: Request) -> Response:
        cfg = self._banner_config(request)
        return _cached_json(request, cfg.body, cfg.lang, f'"{cfg.texts_hash[:16]}"')

    async def vendors_json(self, request: Request) -> Response:
        """Each category's vendors in the visitor's language, fetched when the second layer first opens."""
        cfg = self._banner_config(request)
        return _cached_json(request, cfg.vendors_body, cfg.lang, cfg.vendors_etag)

    async def declaration(self, request: Request) -> Response:
        """The cookie declaration in the visitor's language: a page, or with ``?fragment=1`` a section to embed."""
        cfg = self._banner_config(request)
        s = self.settings
        scan = self._scan()
        listed, others = rows_for(self.catalogue.vendors, cfg.lang, scan)
        path = f"{s.prefix}/declaration?lang={cfg.lang}"
        page = Page(
            lang=cfg.lang, texts={**cfg.declaration, "accept_all": cfg.texts["accept_all"],
                                  "reject_all": cfg.texts["reject_all"]},
            titles=cfg.category_titles, descriptions=cfg.descriptions, countries=cfg.countries,
            facts=Facts(s.controller, s.operator_bin, s.validity_days, s.policy_url), categories=s.categories,
            rows=listed, others=others, scanned_at=scan.scanned_at.date().isoformat() if scan else None,
            state=self._visitor(request), state_path=f"{s.prefix}/state", return_path=path)
        fragment = request.query_params.get("fragment", "") in ("1", "true")
        banner = f"{s.prefix}/banner.js?v={self.assets['banner.js'].version}"
        headers = {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language", "Content-Language": cfg.lang,
                   "Content-Security-Policy": DECLARATION_CSP}
        return HTMLResponse(render(page, fragment=fragment, banner_src=banner), headers=headers)

    def _scan(self) -> ScanSummary | None:
        """The latest stored scan; a damaged file is logged and the declaration falls back to the catalogue."""
        try:
            return read_scan(self.settings.data_dir)
        except (OSError, ValueError) as exc:
            logger.warning("cannot read the stored scan: %s", exc)
            return None

    async def asset(self, request: Request) -> Response:
        return self.assets[request.url.path.rsplit("/", 1)[-1]].response(request)

    async def healthz(self, request: Request) -> Response:
        ok = await self.store.ping()
        return JSONResponse({"status": "ok" if ok else "degraded", "storage": "ok" if ok else "unavailable"},
                            status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})

    # -- writes ------------------------------------------------------------------------------------------

    async def put_state(self, request: Request) -> Response:
        self.limits.check(self.limits.writes, request)
        state = await self._choose(request, await self._json_body(request))
        return self._with_cookies(request, JSONResponse(self._state_json(state), headers=NO_STORE), state)

    async def post_state(self, request: Request) -> Response:
        """The consent form of a page read without JavaScript: the same choice, answered with a 303 back to the
        page, which then arrives rewritten for it."""
        self.limits.check(self.limits.writes, request)
        self._check_origin(request, referer=True)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != FORM:
            raise errors.UnsupportedMediaType(errors.NOT_FORM)
        raw = await _read_limited(request, MAX_BODY)
        try:
            fields = dict(parse_qsl(raw.decode("utf-8"), max_num_fields=MAX_FORM_FIELDS, strict_parsing=True))
        except (UnicodeDecodeError, ValueError):
            raise errors.GatewayError(errors.BAD_FORM) from None
        body: dict[str, object] = {"action": fields.get("action")}
        if "lang" in fields:
            body["lang"] = fields["lang"]
        state = await self._choose(request, body)
        back = RedirectResponse(_return_path(fields.get("return") or self._referer_path(request)), status_code=303,
                                headers=NO_STORE)
        return self._with_cookies(request, back, state)

    @staticmethod
    def _referer_path(request: Request) -> str:
        """The page the form was on, when the Referer names this site; else the home page."""
        parts = urlsplit(request.headers.get("referer", ""))
        if parts.netloc != request.url.netloc:
            return "/"
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def _choose(self, request: Request, body: dict[str, Any]) -> ConsentState:
        """Record a choice (``{"action": ...}`` or ``{"categories": ...}``) and return the state it sets."""
        current = self._visitor(request)
        try:
            action, granted = resolve_choice(body, self.settings.categories, current.gpc)
        except ValueError as exc:
            raise errors.Unprocessable(str(exc)) from None
        lang = negotiate(str(body.get("lang") or ""), request.headers.get("accept-language"),
                         self.settings.languages, self.settings.default_language)
        now = datetime.now(timezone.utc)
        state = ConsentState(consent_id=current.consent_id or new_consent_id(), decided=True, action=action,
                             granted=granted, policy_version=self.settings.policy_version,
                             decided_at=now.replace(microsecond=0), gpc=current.gpc)
        await self._append(request, state, action, lang, now)
        self.metrics.decisions.labels(action).inc()
        for category in OPTIONAL:
            if category in granted:
                self.metrics.opt_ins.labels(category).inc()
        return state

    def _with_cookies(self, request: Request, response: Response, state: ConsentState) -> Response:
        """The consent cookie for ``state``, and the refused categories' vendor cookies expired."""
        self._set_cookie(request, response, self.signer.dumps(state))
        if state.action != "accept_all":
            self._expire_vendor_cookies(request, response, state.blocked(self.settings.categories))
        return response

    async def delete_state(self, request: Request) -> Response:
        self.limits.check(self.limits.writes, request)
        self._check_origin(request)
        current = self._visitor(request)
        if current.consent_id is not None:
            lang = negotiate(None, request.headers.get("accept-language"), self.settings.languages,
                             self.settings.default_language)
            now = datetime.now(timezone.utc)
            await self._append(request, current, "withdraw", lang, now)
            self._revoke(current.consent_id, now)
            self.metrics.decisions.labels("withdraw").inc()
        withdrawn = ConsentState(gpc=current.gpc)
        payload = self._state_json(withdrawn) | {"withdrawn": current.consent_id}
        response = JSONResponse(payload, headers=NO_STORE)
        self._clear_cookie(request, response)
        self._expire_vendor_cookies(request, response, frozenset(OPTIONAL))
        if self.settings.clear_site_data:
            response.headers["Clear-Site-Data"] = '"storage"'
        return response

    async def erase(self, request: Request) -> Response:
        self.limits.check(self.limits.writes, request)
        self._check_origin(request)
        current = self._visitor(request)
        if current.consent_id is None:
            raise errors.NotFound(errors.NO_CONSENT)
        proof = ConsentRecord(
            consent_id=current.consent_id, at=datetime.now(timezone.utc), action="erase",
            categories=frozenset({"necessary"}), policy_version=self.settings.policy_version,
            language=self.settings.default_language, gpc=False, ip_prefix=None,
            device="other", browser="Other", os="Other", texts_hash="")
        removed = await self.store.erase(current.consent_id, proof)
        self._revoke(current.consent_id, proof.at)
        self.metrics.decisions.labels("erase").inc()
        response = JSONResponse({"consent_id": current.consent_id, "erased_records": removed,
                                 "kept": KEPT_AFTER_ERASE}, headers=NO_STORE)
        self._clear_cookie(request, response)
        self._expire_vendor_cookies(request, response, frozenset(OPTIONAL))
        return response

    async def events(self, request: Request) -> Response:
        self.limits.check(self.limits.reports, request)
        body = await self._json_body(request)
        if body.get("event") != "shown":
            raise errors.Unprocessable(f"unknown event {body.get('event')!r}: expected 'shown'")
        agent = classify(request.headers.get("user-agent", ""))
        if not agent.is_bot:
            lang = negotiate(str(body.get("lang") or ""), request.headers.get("accept-language"),
                             self.settings.languages, self.settings.default_language)
            await self.store.record_event(BannerEvent(
                at=datetime.now(timezone.utc), event="shown", language=lang,
                policy_version=self.settings.policy_version, device=agent.device, browser=agent.browser,
                os=agent.os))
            self.metrics.impressions.inc()
        return Response(status_code=204)

    async def csp_report(self, request: Request) -> Response:
        self.limits.check(self.limits.reports, request)
        doc = _parse_json(await _read_limited(request, 16 * 1024) or b"null")
        now = datetime.now(timezone.utc)
        day = now.date().isoformat()
        for host, directive in _csp_violations(doc)[: self.limits.hosts_per_report]:
            await self.store.record_csp_report(self.limits.csp_hosts.admit(host, day), directive, now)
            self.metrics.csp_reports.inc()
        return Response(status_code=204)

    # -- helpers -----------------------------------------------------------------------------------------

    def _revoke(self, consent_id: str, at: datetime) -> None:
        """Refuse the id's cookies in this process from now on (the store has the revocation for the others)."""
        if self.revocations is not None:
            self.revocations.add(consent_id, at)

    async def _append(self, request: Request, state: ConsentState, action: str, lang: str, now: datetime) -> None:
        agent = classify(request.headers.get("user-agent", ""))
        client = request.client.host if request.client else None
        record = ConsentRecord(
            consent_id=state.consent_id or "", at=now, action=action,
            categories=state.granted if action != "withdraw" else frozenset({"necessary"}),
            policy_version=self.settings.policy_version, language=lang, gpc=state.gpc,
            ip_prefix=truncate_ip(client) if self.settings.ip_truncation else None,
            device=agent.device, browser=agent.browser, os=agent.os,
            texts_hash=self.configs[lang].texts_hash,
        )
        await self.store.append(record)

    def _check_origin(self, request: Request, referer: bool = False) -> None:
        """Writes come from the site's origins or the gateway's own; with ``referer``, a form post's Referer
        stands in for a missing Origin."""
        origin = request.headers.get("origin")
        if origin is None and referer and (ref := request.headers.get("referer")):
            parts = urlsplit(ref)
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin is None or origin in self.settings.origins:
            return
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin != own:
            raise errors.Forbidden(errors.BAD_ORIGIN.format(origin=origin))

    async def _json_body(self, request: Request) -> dict[str, Any]:
        self._check_origin(request)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise errors.UnsupportedMediaType(errors.NOT_JSON)
        body = _parse_json(await _read_limited(request, MAX_BODY))
        if not isinstance(body, dict):
            raise errors.Unprocessable(errors.NOT_OBJECT)
        return body

    def _cookie_attrs(self, request: Request) -> dict[str, Any]:
        host = request.url.hostname or ""
        local_http = request.url.scheme == "http" and host in LOCAL_HOSTS
        domain = self.settings.cookie_domain
        if domain and not (host == domain.lstrip(".") or host.endswith("." + domain.lstrip("."))):
            domain = ""
        return {"path": "/", "domain": domain or None, "secure": self.settings.cookie_secure and not local_http,
                "httponly": True, "samesite": self.settings.cookie_samesite}

    def _set_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(self.settings.cookie_name, value, max_age=self.settings.validity_seconds,
                            **self._cookie_attrs(request))

    def _clear_cookie(self, request: Request, response: Response) -> None:
        response.set_cookie(self.settings.cookie_name, "", max_age=0, expires=0, **self._cookie_attrs(request))

    def _expire_vendor_cookies(self, request: Request, response: Response, blocked: Iterable[str]) -> None:
        """Expire the vendor cookies of refused categories that the browser sent, host-only and on each parent
        domain. Only those: a cookie the browser did not send is not there to expire (or lives where this host
        cannot reach it), and expiring every catalogue cookie on every domain made a header block of hundreds
        of lines that proxies and clients refuse."""
        refused = set(blocked)
        present = {n for n in request.cookies if self.catalogue.category_for_cookie(n) in refused}
        if not present:
            return
        host = request.url.hostname or ""
        labels = host.split(".")
        domains: list[str | None] = [None] + [
            "." + ".".join(labels[i:]) for i in range(len(labels) - 1) if not _is_ip(host)]
        for name in sorted(present):
            if name == self.settings.cookie_name:
                continue
            for domain in domains:
                response.set_cookie(name, "", max_age=0, expires=0, path="/", domain=domain,
                                    secure=request.url.scheme == "https", samesite="lax")


def _parse_json(raw: bytes) -> Any:
    """JSON within MAX_DEPTH levels of nesting (checked before parsing: deep nesting is a RecursionError there)."""
    if json_depth(raw) > MAX_DEPTH:
        raise errors.GatewayError(errors.TOO_DEEP.format(limit=MAX_DEPTH))
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.GatewayError(errors.BAD_JSON.format(detail=exc)) from None


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def json_depth(raw: bytes) -> int:
    """How deep ``raw``'s arrays and objects nest, brackets inside strings not counted."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(raw):
        c = m.group()[:1]
        if c in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif c in (b"]", b"}"):
            depth -= 1
    return deepest


def _return_path(target: str) -> str:
    """Where the form's 303 goes: a path on this site (never another host), else the home page."""
    parts = urlsplit(target)
    path = parts.path
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith(("//", "/\\")) or len(target) > 2048:
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def _cached_json(request: Request, body: bytes, lang: str, etag: str) -> Response:
    """A precomputed per-language document: public for five minutes, revalidated by ETag."""
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Language", "Content-Language": lang,
               "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise errors.PayloadTooLarge(errors.TOO_LARGE.format(limit=limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(errors.TOO_LARGE.format(limit=limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _record_json(r: ConsentRecord, categories: tuple[str, ...]) -> dict[str, Any]:
    return {"at": r.at.isoformat(timespec="seconds").replace("+00:00", "Z"), "action": r.action,
            "categories": {c: c in r.categories for c in categories}, "policy_version": r.policy_version,
            "language": r.language, "gpc": r.gpc, "ip_prefix": r.ip_prefix,
            "device": r.device, "browser": r.browser, "os": r.os, "texts_hash": r.texts_hash}


def _csp_violations(doc: object) -> list[tuple[str, str]]:
    """(blocked host, directive) pairs from report-uri (csp-report) or Reporting API (list) bodies."""
    reports: list[dict[str, Any]] = []
    if isinstance(doc, dict) and isinstance(doc.get("csp-report"), dict):
        reports.append(doc["csp-report"])
    elif isinstance(doc, list):
        reports.extend(r.get("body", {}) for r in doc if isinstance(r, dict) and isinstance(r.get("body"), dict))
    else:
        raise errors.Unprocessable("expected a CSP violation report (csp-report object or a list of reports)")
    out = []
    for rep in reports[:50]:
        uri = str(rep.get("blocked-uri") or rep.get("blockedURL") or "")
        directive = str(rep.get("effective-directive") or rep.get("effectiveDirective")
                        or rep.get("violated-directive") or "")[:40]
        host = urlsplit(uri).hostname if "://" in uri else None
        if host:
            out.append((host[:253], directive.split(" ")[0]))
    return out
