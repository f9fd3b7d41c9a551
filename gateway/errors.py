"""Reasons as constants, one small exception hierarchy, one mapping to HTTP responses."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

security_log = logging.getLogger("gateway.security")

BAD_ORIGIN = "origin {origin!r} is not allowed to change consent"
NOT_JSON = "send the body as application/json"
TOO_LARGE = "request body is larger than {limit} bytes"
BAD_JSON = "request body is not valid JSON: {detail}"
NOT_OBJECT = "request body must be a JSON object"
NO_CONSENT = "this browser has no consent record yet"


class GatewayError(Exception):
    """An error a client caused; `status` and `message` go out as a JSON body."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "not_found"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(GatewayError):
    status = 422
    code = "unprocessable"


async def gateway_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The one place a GatewayError becomes a response."""
    assert isinstance(exc, GatewayError)
    if isinstance(exc, Forbidden):
        security_log.warning("refused %s %s: %s", request.method, request.url.path, exc.message)
    return JSONResponse(
        {"error": exc.code, "message": exc.message},
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


STORE_DOWN = "the consent log is unavailable, nothing was recorded; try again shortly"


async def store_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Storage failed: say so, set no cookie, acknowledge nothing."""
    logging.getLogger("gateway.store").error("store failure on %s %s: %r", request.method, request.url.path, exc)
    return JSONResponse({"error": "unavailable", "message": STORE_DOWN}, status_code=503,
                        headers={"Cache-Control": "no-store", "Retry-After": "5"})
