"""Reasons as constants, one small exception hierarchy, and the one place an error becomes a response.

Every refusal the gateway makes (a consent API write, the analyst's routes, the reverse proxy's own 5xx) is a
``GatewayError``; ``render`` turns it into a JSON body (``{"error", "message", "parameter"?}``), a small HTML
page (for browsers: the dashboard, a proxied page), or plain text (a Prometheus scraper), always ``no-store``.
"""

from __future__ import annotations

import html as _html
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

security_log = logging.getLogger("gateway.security")
store_log = logging.getLogger("gateway.store")

BAD_ORIGIN = "origin {origin!r} is not allowed to change consent"
NOT_JSON = "send the body as application/json"
NOT_FORM = "send the form as application/x-www-form-urlencoded"
BAD_FORM = "the form is not valid: expected action=accept_all or action=reject_all"
TOO_LARGE = "request body is larger than {limit} bytes"
BAD_JSON = "request body is not valid JSON: {detail}"
TOO_DEEP = "request body nests deeper than {limit} levels of arrays and objects"
NOT_OBJECT = "request body must be a JSON object"
NO_CONSENT = "this browser has no consent record yet"
TOO_MANY = "too many requests from this network; try again after Retry-After seconds"
BAD_HOST = "this gateway does not serve the host {host!r} (allowed_hosts)"
STORE_DOWN = "the consent log is unavailable, nothing was recorded; try again shortly"
UPLOAD_STALLED = "The upload stopped arriving."
UPSTREAM_SLOW = "The site did not answer in time. Please try again in a moment."
UPSTREAM_DOWN = "The site could not be reached. Please try again in a moment."
UPSTREAM_CODING = "The site answered in an unsupported encoding. Please try again in a moment."

Kind = Literal["json", "html", "text"]


class GatewayError(Exception):
    """An error a client (or the upstream) caused; ``status``, ``code`` and ``message`` go out in the body.

    ``code`` may name the error more precisely than its class; ``parameter`` names the request field at fault;
    ``headers`` are added to the response."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, parameter: str | None = None,
                 headers: Mapping[str, str] | None = None, **context: object) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # a more precise name than the class's, e.g. "invalid_range"
        self.parameter = parameter
        self.headers = dict(headers or {})
        self.context = context


class Unauthorized(GatewayError):
    status = 401
    code = "unauthorized"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class RequestTimeout(GatewayError):
    status = 408
    code = "request_timeout"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(GatewayError):
    status = 422
    code = "unprocessable"


class TooManyRequests(GatewayError):
    status = 429
    code = "too_many_requests"


class BadGateway(GatewayError):
    status = 502
    code = "bad_gateway"


class Unavailable(GatewayError):
    status = 503
    code = "unavailable"


class GatewayTimeout(GatewayError):
    status = 504
    code = "gateway_timeout"


def render(exc: GatewayError, kind: Kind = "json", page: tuple[str, str, str] | None = None
           ) -> tuple[int, list[tuple[str, str]], bytes]:
    """The one mapping from an error to (status, headers, body). ``page`` is a page's (language, title, message)
    in the reader's language, for pages a person reads (the dashboard's); otherwise the page is English."""
    if kind == "html":
        lang, title, message = page or ("en", f"{exc.status} {HTTPStatus(exc.status).phrase}", exc.message)
        title = _html.escape(title)
        body = (f'<!doctype html><html lang="{lang}"><meta charset=utf-8><title>{title}</title>'
                f"<h1>{title}</h1><p>{_html.escape(message)}</p></html>").encode()
        ctype = "text/html; charset=utf-8"
    elif kind == "text":
        body, ctype = f"{exc.message}\n".encode(), "text/plain; charset=utf-8"
    else:
        payload = {"error": exc.code, "message": exc.message} | ({"parameter": exc.parameter} if exc.parameter else {})
        body, ctype = json.dumps(payload).encode(), "application/json"
    headers = [("content-type", ctype), ("cache-control", "no-store"), ("x-content-type-options", "nosniff")]
    if kind == "html":
        headers.append(("content-security-policy", "default-src 'none'"))
    headers += [(name.lower(), value) for name, value in exc.headers.items()]
    return exc.status, headers, body


def response(exc: GatewayError, kind: Kind = "json", page: tuple[str, str, str] | None = None) -> Response:
    """``render`` as a Starlette response (routes and exception handlers)."""
    status, headers, body = render(exc, kind, page)
    return Response(body, status_code=status, headers=dict(headers))


async def send_error(send: Send, exc: GatewayError, kind: Kind = "json", head: bool = False) -> None:
    """``render`` over raw ASGI (the reverse proxy, which has no Starlette request)."""
    status, headers, body = render(exc, kind)
    raw = [(b"content-length", str(len(body)).encode())] + [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


def kind_for(accept: str) -> Kind:
    """JSON for a client that asks for it and not for HTML; a page for everyone else."""
    return "json" if "json" in accept and "html" not in accept else "html"


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's handler for GatewayError on the consent API: JSON, or a page for a browser navigating (the
    no-JavaScript consent form)."""
    assert isinstance(exc, GatewayError)
    if isinstance(exc, Forbidden):
        security_log.warning("refused %s %s: %s", request.method, request.url.path, exc.message)
    return response(exc, "html" if "text/html" in request.headers.get("accept", "") else "json")


async def store_error_handler(request: Request, exc: Exception) -> Response:
    """Storage failed: say so, set no cookie, acknowledge nothing."""
    store_log.error("store failure on %s %s: %r", request.method, request.url.path, exc)
    return response(Unavailable(STORE_DOWN, headers={"Retry-After": "5"}))
