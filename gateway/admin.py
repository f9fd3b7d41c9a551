"""Analyst routes: the dashboard, the summary as JSON and CSV, and Prometheus metrics, behind one admin token.

Every response here carries `Cache-Control: no-store` (consent metrics must not sit in a shared cache). The token
is accepted as `Authorization: Bearer T` (scripts, Prometheus) or as the password of HTTP basic auth with any user
name (a browser's own login prompt, so the dashboard needs no JavaScript and no session). Without a token the
routes exist but answer 503, so a misconfigured deployment says why instead of silently exposing or hiding data.

The dashboard speaks ru, kk and en: ``?lang=``, else the browser's Accept-Language, else the site's default
language, with links to switch. The JSON, the CSV and the API's errors stay in English (stable names for machines).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway import errors
from gateway.analytics import default_range, parse_day, range_error, resolve_range, to_csv
from gateway.charts import CSS, render_page
from gateway.locales import UI_LANGUAGES, negotiate, ui_texts
from gateway.ratelimit import TokenBuckets
from gateway.resources import CONFIG_DIR
from gateway.store.records import MAX_RANGE_DAYS
from gateway.trusted import truncate_ip

logger = logging.getLogger("gateway.admin")

REALM = 'Basic realm="consent-gateway", charset="UTF-8"'
DISABLED = ("Admin is disabled: set GATEWAY_ADMIN_TOKEN (or GATEWAY_ADMIN_TOKEN_FILE) to enable the dashboard, "
            "the summary API and /metrics.")
UNAUTHORIZED = ("Admin token required: send 'Authorization: Bearer <token>' or HTTP basic auth with the token as "
                "password.")
# A refusal's error code -> the [dashboard] texts that explain it to a person (``<name>_title`` and ``<name>``).
_REFUSALS = {"admin_disabled": "disabled", "unauthorized": "sign_in", "too_many_requests": "too_many"}
MISSING, MALFORMED, WRONG = "missing", "malformed", "wrong"  # reasons, also the auth-failure counter's label
CSP = (f"default-src 'none'; style-src 'sha256-{base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()}'; "
       "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

Endpoint = Callable[[Request], Awaitable[Response]]


def _bad_range(parameter: str, message: str, **context: object) -> errors.Unprocessable:
    """A `from`/`to` query parameter that cannot make a summary, naming the culprit; ``context`` carries the
    reason and its values, for the dashboard to say it in the analyst's language."""
    exc = errors.Unprocessable(message, code="invalid_range", parameter=parameter)
    exc.context = context
    return exc


def _page_error(t: Mapping[str, str], exc: errors.GatewayError) -> str:
    """A rejected range as the dashboard says it, in its language, followed by what it shows instead."""
    c = exc.context
    if c.get("reason") == "not_a_date":
        text = t["error_not_date"].replace("{field}", t[str(exc.parameter)]).replace("{value}", str(c["value"]))
    elif c.get("reason") == "reversed":
        text = t["error_reversed"].replace("{start}", str(c["start"])).replace("{end}", str(c["end"]))
    else:
        text = t["error_too_long"].replace("{days}", str(MAX_RANGE_DAYS))
    return f"{text} {t['error_default']}"


class _Token:
    """The admin secret, compared in constant time whatever the scheme."""

    def __init__(self, token: str) -> None:
        self._secret = token.encode("utf-8")

    def failure(self, header: str | None) -> str | None:
        """Why `Authorization` does not grant access, or None when it does."""
        if not header:
            return MISSING
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            supplied = credentials.strip().encode("utf-8")
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True)
            except (binascii.Error, ValueError):
                return MALFORMED
            user, colon, supplied = decoded.partition(b":")
            if not colon:
                return MALFORMED
        else:
            return MALFORMED
        return None if secrets.compare_digest(supplied, self._secret) else WRONG


def parse_range(request: Request, timezone: str) -> tuple[date, date]:
    """`from`/`to` query parameters as inclusive local days; missing or empty ones take the defaults."""
    values: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = request.query_params.get(name, "").strip()
        if not raw:
            values[name] = None
            continue
        try:
            values[name] = parse_day(raw)
        except ValueError:
            raise _bad_range(name, f"{name}: {raw[:40]!r} is not a date; use YYYY-MM-DD", reason="not_a_date",
                             value=raw[:40]) from None
    start, end = resolve_range(values["from"], values["to"], timezone)
    if error := range_error(start, end):
        raise _bad_range("from" if start > end else "to", error, reason="reversed" if start > end else "too_long",
                         start=start, end=end)
    return start, end


def admin_routes(*, token: str | None, store: Any, metrics: Any, timezone: str,
                 failures_per_minute: int = 10, default_language: str = "ru",
                 languages: tuple[str, ...] = UI_LANGUAGES) -> list[BaseRoute]:
    """Routes to mount under the gateway prefix: /admin/, /admin/api/summary(.csv), /metrics. A client network
    that sent ``failures_per_minute`` wrong tokens is answered 429 for a while, whatever it sends. The dashboard
    speaks ``languages`` (those of ru, kk, en the site has), ``default_language`` when the browser asks for none."""
    langs = tuple(lang for lang in languages if lang in UI_LANGUAGES) or UI_LANGUAGES
    default = default_language if default_language in langs else langs[0]
    texts = ui_texts("dashboard", lambda lang: CONFIG_DIR / "locales" / f"{lang}.toml", langs)
    names = {lang: texts[lang]["language_name"] for lang in langs}
    failures = TokenBuckets(failures_per_minute)
    check = _Token(token) if token and token.strip() else None
    if check is None:
        logger.warning("%s Admin routes answer 503 until then.", DISABLED)

    def refusal_page(request: Request, exc: errors.GatewayError) -> tuple[str, str, str] | None:
        """The refusal in the analyst's language (the dashboard's), for the pages a person reads."""
        name = _REFUSALS.get(exc.code)
        if name is None:
            return None
        lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"), langs, default)
        t = texts[lang]
        return lang, t[f"{name}_title"], t[name].replace("{seconds}", exc.headers.get("Retry-After", ""))

    def guarded(endpoint: Endpoint, kind: errors.Kind = "json") -> Endpoint:
        async def guard(request: Request) -> Response:
            try:
                if check is None:
                    raise errors.Unavailable(DISABLED, code="admin_disabled")
                network = truncate_ip(request.client.host if request.client else None) or "unknown"
                if wait := failures.peek(network):  # too many wrong tokens lately: not even checked
                    raise errors.TooManyRequests(errors.TOO_MANY, headers={"Retry-After": str(math.ceil(wait))})
                if reason := check.failure(request.headers.get("authorization")):
                    metrics.admin_auth_failures.labels(reason=reason).inc()
                    failures.wait(network)
                    raise errors.Unauthorized(UNAUTHORIZED, headers={"WWW-Authenticate": REALM})
                response = await endpoint(request)
            except errors.GatewayError as exc:
                page = refusal_page(request, exc) if kind == "html" else None
                response = errors.response(exc, kind, page)
                if page is not None:
                    response.headers["Content-Language"], response.headers["Vary"] = page[0], "Accept-Language"
            response.headers["Cache-Control"] = "no-store"
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            return response

        return guard

    async def dashboard(request: Request) -> Response:
        today = default_range(timezone)[1]
        lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"), langs, default)
        t = texts[lang]
        headers = {"Content-Security-Policy": CSP, "Content-Language": lang, "Vary": "Accept-Language"}
        try:
            start, end = parse_range(request, timezone)
        except errors.Unprocessable as exc:
            start, end = default_range(timezone)
            page = render_page(await store.summary(start, end), today=today, texts=t, lang=lang, languages=names,
                               error=_page_error(t, exc))
            return HTMLResponse(page, status_code=422, headers=headers)
        page = render_page(await store.summary(start, end), today=today, texts=t, lang=lang, languages=names)
        return HTMLResponse(page, headers=headers)

    async def summary_json(request: Request) -> Response:
        start, end = parse_range(request, timezone)
        return JSONResponse(await store.summary(start, end))

    async def summary_csv(request: Request) -> Response:
        start, end = parse_range(request, timezone)
        body = "\ufeff" + to_csv(await store.summary(start, end))  # the BOM makes Excel read UTF-8
        filename = f"consent-summary-{start}_{end}.csv"
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def to_dashboard(request: Request) -> Response:
        return RedirectResponse("admin/", status_code=308)

    return [
        Route("/admin", guarded(to_dashboard, "html"), methods=["GET"]),
        Route("/admin/", guarded(dashboard, "html"), methods=["GET"]),
        Route("/admin/api/summary", guarded(summary_json), methods=["GET"]),
        Route("/admin/api/summary.csv", guarded(summary_csv), methods=["GET"]),
        Route("/metrics", guarded(prometheus, "text"), methods=["GET"]),
    ]
