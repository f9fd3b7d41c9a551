"""The HTTP contract of the consent API as an OpenAPI 3.1 document: data built from Settings, served as JSON.

``openapi_document(settings)`` is the document; ``openapi_endpoint(settings)`` serialises it once, when the
routes are built, and serves the same bytes at ``GET {prefix}/openapi.json``. The schemas follow what
``api.py``, ``admin.py`` and ``errors.py`` really send, strictly (``additionalProperties: false`` wherever a shape
is fixed) so that a response with a wrong or extra field fails tests/test_openapi.py, which runs schemathesis
over it. Paths carry the configured prefix; categories and languages are the configured ones.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .locales import BANNER_KEYS
from .settings import Settings
from .vocabulary import ACTIONS, CHOICES, ERASE, NECESSARY, OPTIONAL, SHOWN

Schema = dict[str, Any]
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

_STRING: Schema = {"type": "string"}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
_WHEN: Schema = {"type": ["string", "null"], "format": "date-time"}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_RATE: Schema = {"type": "number", "minimum": 0, "maximum": 1}
_ERROR = {"$ref": "#/components/schemas/Error"}
# Where a vendor's data go (ISO 3166-1 alpha-2, or "unknown") and whether that leaves Kazakhstan (null: unknown).
_COUNTRY: Schema = {"type": "string", "pattern": "^([A-Z]{2}|unknown)$"}
_CROSS_BORDER: Schema = {"type": ["boolean", "null"]}
# The summary's names, as gateway.store.summary spells them (the API layer never imports the store package;
# tests/test_openapi.py pins them equal, and the schemathesis run validates a real summary against them).
TOTALS = (SHOWN, "decisions", *ACTIONS)
DAY_COUNTS = (SHOWN, "decisions", *(a for a in ACTIONS if a != ERASE))
BREAKDOWNS = ("device", "browser", "os", "language", "policy_version")
BREAKDOWN_COUNTS = ("decisions", *CHOICES)


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """A closed object: every property but ``optional`` required, nothing else allowed."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional], "additionalProperties": False}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str, headers: dict[str, Schema] | None = None) -> Schema:
    out: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        out["headers"] = {name: {"schema": s, "required": True} for name, s in headers.items()}
    return out


def _error(description: str, html: bool = False) -> Schema:
    """A refusal: the JSON error body, or (``html``) the small page a navigating browser gets instead."""
    out = _json(_ERROR, description)
    if html:
        out["content"]["text/html"] = {"schema": _STRING}
    return out


def _write_errors(html: bool = False) -> dict[str, Schema]:
    """The refusals every consent write can give (errors.py); 408 and 429 are issue 12's deadline and limits."""
    return {
        "400": _error("The body is not valid JSON (or not a valid form).", html),
        "403": _error("The Origin is not one of the site's origins.", html),
        "408": _error("The request body did not arrive in time.", html),
        "413": _error("The body is larger than the limit.", html),
        "415": _error("The body is not of the expected media type.", html),
        "422": _error("The body is well-formed but not a valid choice.", html),
        "429": {**_error("Too many writes from this network; try again after Retry-After seconds.", html),
                "headers": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
        "503": {**_error("The consent log is unavailable: nothing was recorded and no cookie was set.", html),
                "headers": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
    }


def _schemas(s: Settings) -> dict[str, Schema]:
    flags = {c: ({"const": True} if c == NECESSARY else {"type": "boolean"}) for c in s.categories}
    state = {
        "consent_id": _NULLABLE_STRING,
        "decided": {"type": "boolean"},
        "action": {"enum": [*CHOICES, None]},
        "categories": _ref("Categories"),
        "policy_version": _NULLABLE_STRING,
        "decided_at": _WHEN,
        "expires_at": _WHEN,
        "gpc": {"type": "boolean"},
    }
    opt_in = _object({c: _RATE for c in OPTIONAL if c in s.categories})
    return {
        "Error": _object({"error": _STRING, "message": _STRING, "parameter": _STRING}, optional=("parameter",)),
        "Categories": _object(flags),
        "RecordCategories": _object({c: {"type": "boolean"} for c in s.categories}),
        "ConsentState": _object(state),
        "Withdrawn": _object({**state, "withdrawn": _NULLABLE_STRING}),
        "Choice": {
            "oneOf": [
                _object({"action": {"enum": ["accept_all", "reject_all"]}, "lang": _STRING}, optional=("lang",)),
                _object({"categories": {**_object(flags), "required": []}, "lang": _STRING}, optional=("lang",)),
            ],
        },
        "FormChoice": _object({"action": {"enum": ["accept_all", "reject_all"]},
                               "lang": {"type": "string", "pattern": "^[a-z]{2}$"},
                               "return": {"type": "string", "pattern": "^/[A-Za-z0-9/_-]{0,40}$"}},
                              optional=("lang", "return")),
        "Record": _object({
            "at": {"type": "string", "format": "date-time"},
            "action": {"enum": list(ACTIONS)},
            "categories": _ref("RecordCategories"),
            "policy_version": _STRING,
            "language": _STRING,
            "gpc": {"type": "boolean"},
            "ip_prefix": _NULLABLE_STRING,
            "device": _STRING,
            "browser": _STRING,
            "os": _STRING,
            "texts_hash": _STRING,
        }),
        "Receipt": _object({"consent_id": _STRING, "current": _ref("ConsentState"),
                            "records": {"type": "array", "items": _ref("Record")},
                            "controller": _STRING, "policy_url": _STRING,
                            "operator": _object({"name": _STRING, "bin": {
                                "type": ["string", "null"], "pattern": "^[0-9]{12}$"}}),
                            "term_days": {"type": "integer", "minimum": 1},
                            "recipients": _object({c: {"type": "array", "items": _ref("Recipient")}
                                                   for c in s.categories}),
                            "declaration_url": _STRING}),
        "Recipient": _object({"name": _STRING, "country": _COUNTRY, "cross_border": _CROSS_BORDER}),
        "Erased": _object({"consent_id": _STRING, "erased_records": _COUNT,
                           "kept": {"type": "array", "items": _object({"what": _STRING, "why": _STRING})}}),
        "Event": _object({"event": {"const": "shown"}, "lang": _STRING}, optional=("lang",)),
        "CspReport": {
            "description": "A report-uri body ({\"csp-report\": {...}}) or a Reporting API list.",
            "oneOf": [
                {"type": "object", "required": ["csp-report"],
                 "properties": {"csp-report": {"type": "object", "properties": {
                     "blocked-uri": _STRING, "effective-directive": _STRING, "violated-directive": _STRING}}}},
                {"type": "array", "maxItems": 20, "items": {
                    "type": "object", "required": ["body"], "properties": {
                        "type": _STRING, "body": {"type": "object", "properties": {
                            "blockedURL": _STRING, "effectiveDirective": _STRING}}}}},
            ],
        },
        "BannerConfig": _object({
            "lang": {"enum": list(s.languages)},
            "policy_version": {"const": s.policy_version},
            "policy_url": {"const": s.policy_url},
            "categories": {"type": "array", "items": _object({"id": {"enum": list(s.categories)}, "title": _STRING})},
            "texts": _object({k: _STRING for k in BANNER_KEYS}),
        }),
        "Vendors": _object({
            "lang": {"enum": list(s.languages)},
            "texts_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "details": _STRING,
            "descriptions": _object({c: _STRING for c in s.categories}),
            "categories": _object({c: {"type": "array", "items": _object(
                {"name": _STRING, "purpose": _STRING, "policy_url": _STRING, "country": _COUNTRY,
                 "cross_border": _CROSS_BORDER})} for c in s.categories}),
            "declaration_url": _STRING,
            "declaration_link": _STRING,  # the second layer's link text to the declaration
        }),
        "Health": _object({"status": {"enum": ["ok", "degraded"]}, "storage": {"enum": ["ok", "unavailable"]}}),
        "Summary": _object({
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "timezone": _STRING,
            "totals": _object({name: _COUNT for name in TOTALS}),
            "interaction_rate": {"type": "number", "minimum": 0},
            "opt_in_rate": opt_in,
            "gpc_share": _RATE,
            "days": {"type": "array", "items": _object(
                {"day": {"type": "string", "format": "date"}, **{n: _COUNT for n in DAY_COUNTS}, "opt_in": opt_in})},
            "breakdowns": _object({dim: {"type": "array", "items": _object(
                {"key": _STRING, **{n: _COUNT for n in BREAKDOWN_COUNTS}, "opt_in": opt_in})} for dim in BREAKDOWNS}),
            "blocked_hosts": {"type": "array", "items": _object({"host": _STRING, "reports": _COUNT})},
        }),
    }


def _consent_paths(s: Settings) -> dict[str, Schema]:
    cookie = {"name": s.cookie_name, "in": "cookie", "required": False, "schema": _STRING,
              "description": "The signed consent cookie; a missing, tampered or expired one means no consent yet."}
    gpc = {"name": "Sec-GPC", "in": "header", "required": False, "schema": _STRING,
           "description": "Global Privacy Control: 1 refuses marketing until the visitor says otherwise."}
    visitor = [cookie, gpc]
    lang = [{"name": "lang", "in": "query", "required": False, "schema": _STRING},
            {"name": "Accept-Language", "in": "header", "required": False, "schema": _STRING}]
    set_cookie = {"Set-Cookie": _STRING}
    state = _json(_ref("ConsentState"), "The visitor's consent now.")
    not_modified = {"description": "Not modified (If-None-Match matched the ETag)."}
    etag = {"name": "If-None-Match", "in": "header", "required": False, "schema": _STRING}

    def asset(media_type: str, what: str) -> Schema:
        return {"get": {"summary": what, "operationId": f"get_{what.replace('.', '_')}",
                        "parameters": [{"name": "v", "in": "query", "required": False, "schema": _STRING}, etag],
                        "responses": {"200": {"description": what, "content": {media_type: {"schema": _STRING}}},
                                      "304": not_modified}}}

    def cached(operation: str, schema: str, what: str) -> Schema:
        return {"get": {"summary": what, "operationId": operation, "parameters": [*lang, etag],
                        "responses": {"200": _json(_ref(schema), what), "304": not_modified}}}

    return {
        "/state": {
            "get": {"summary": "This visitor's consent", "operationId": "get_state", "parameters": visitor,
                    "responses": {"200": state}},
            "put": {"summary": "Record a choice and set the consent cookie", "operationId": "put_state",
                    "parameters": visitor,
                    "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Choice")}}},
                    "responses": {"200": {**state, "headers": {n: {"schema": v} for n, v in set_cookie.items()}},
                                  **_write_errors()}},
            "post": {"summary": "The no-JavaScript consent form: the same choice, answered with 303 back to the page",
                     "operationId": "post_state", "parameters": visitor,
                     "requestBody": {"required": True, "content": {FORM: {"schema": _ref("FormChoice")}}},
                     "responses": {"303": {"description": "Back to the page (a path on this site).",
                                           "headers": {"Location": {"required": True, "schema": {
                                               "type": "string", "pattern": "^/"}}}},
                                   **_write_errors(html=True)}},
            "delete": {"summary": "Withdraw consent: logged, cookie cleared, vendor cookies expired",
                       "operationId": "delete_state", "parameters": visitor,
                       "responses": {"200": _json(_ref("Withdrawn"), "Withdrawn: no consent now."),
                                     **_write_errors()}},
        },
        "/receipt": {"get": {"summary": "The visitor's own consent history (right to know)",
                             "operationId": "get_receipt", "parameters": visitor,
                             "responses": {"200": _json(_ref("Receipt"), "The history."),
                                           "404": _error("This browser has no consent record.")}}},
        "/erase": {"post": {"summary": "Erase the visitor's records (right to destruction)",
                            "operationId": "erase", "parameters": visitor,
                            "responses": {"200": _json(_ref("Erased"), "Erased; what the law keeps is listed."),
                                          "404": _error("This browser has no consent record."),
                                          **_write_errors()}}},
        "/events": {"post": {"summary": "An anonymous banner impression", "operationId": "post_event",
                             "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Event")}}},
                             "responses": {"204": {"description": "Counted (bots are not)."}, **_write_errors()}}},
        "/csp-report": {"post": {
            "summary": "Content-Security-Policy violation reports", "operationId": "post_csp_report",
            "requestBody": {"required": True, "content": {
                t: {"schema": _ref("CspReport")} for t in ("application/csp-report", "application/reports+json",
                                                           JSON)}},
            "responses": {"204": {"description": "Recorded."}, **_write_errors()}}},
        "/config.json": cached("get_config", "BannerConfig",
                               "What the banner's first layer needs, in the visitor's language"),
        "/vendors.json": cached("get_vendors", "Vendors",
                                "Each category's vendors and descriptions, in the visitor's language"),
        "/declaration": {"get": {
            "summary": "The cookie declaration: recipients per category with purpose, policy, cookies and lifetimes, "
                       "country and cross-border transfer; operator, BIN and term; the visitor's choice",
            "operationId": "get_declaration",
            "parameters": [*lang, *visitor,
                           {"name": "fragment", "in": "query", "required": False, "schema": {"enum": ["1", "true"]},
                            "description": "A <section> to embed in the privacy-policy page instead of a whole page."}],
            "responses": {"200": {"description": "An HTML page (or section) in the visitor's language.",
                                  "content": {"text/html": {"schema": _STRING}}}}}},
        "/banner.js": asset("text/javascript", "banner.js"),
        "/banner.css": asset("text/css", "banner.css"),
        "/healthz": {"get": {"summary": "Liveness and storage readiness", "operationId": "healthz",
                             "responses": {"200": _json(_ref("Health"), "Ready."),
                                           "503": _json(_ref("Health"), "The consent log is unavailable.")}}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                  "responses": {"200": _json({"type": "object", "required": ["openapi", "paths"]},
                                                             "OpenAPI 3.1.")}}},
    }


def _admin_paths() -> dict[str, Schema]:
    auth: list[Schema] = [{"bearer": []}, {"basic": []}]
    html: Schema = {"content": {"text/html": {"schema": _STRING}}}
    denied: dict[str, Schema] = {
        "401": {"description": "No or a wrong token.", "headers": {"WWW-Authenticate": {"schema": _STRING}}},
        "503": {"description": "Admin is disabled: no token is configured."},
    }
    span = [{"name": "from", "in": "query", "required": False, "schema": _STRING},
            {"name": "to", "in": "query", "required": False, "schema": _STRING}]

    def json_denied() -> dict[str, Schema]:
        return {code: {**r, "content": {JSON: {"schema": _ERROR}}} for code, r in denied.items()}

    return {
        "/admin": {"get": {"summary": "To the dashboard", "operationId": "admin_redirect", "security": auth,
                           "responses": {"308": {"description": "To admin/."},
                                         **{c: {**r, **html} for c, r in denied.items()}}}},
        "/admin/": {"get": {"summary": "The analyst dashboard", "operationId": "admin_dashboard", "security": auth,
                            "parameters": span,
                            "responses": {"200": {"description": "The dashboard.", **html},
                                          "422": {"description": "A bad range: the default range, with the error.",
                                                  **html},
                                          **{c: {**r, **html} for c, r in denied.items()}}}},
        "/admin/api/summary": {"get": {
            "summary": "Consent metrics as JSON", "operationId": "admin_summary", "security": auth,
            "parameters": span,
            "responses": {"200": _json(_ref("Summary"), "The summary."), "422": _error("A bad from/to."),
                          **json_denied()}}},
        "/admin/api/summary.csv": {"get": {
            "summary": "Consent metrics as CSV", "operationId": "admin_summary_csv", "security": auth,
            "parameters": span,
            "responses": {"200": {"description": "The summary as CSV.", "content": {"text/csv": {"schema": _STRING}}},
                          "422": _error("A bad from/to."), **json_denied()}}},
        "/metrics": {"get": {
            "summary": "Prometheus text exposition", "operationId": "metrics", "security": auth,
            "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": _STRING}}},
                          **{c: {**r, "content": {"text/plain": {"schema": _STRING}}} for c, r in denied.items()}}}},
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route under ``settings.prefix``."""
    paths = {settings.prefix + path: item for path, item in {**_consent_paths(settings), **_admin_paths()}.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Consent gateway", "version": _version(),
                 "description": "Consent API of the gateway: writes take JSON only (the no-JavaScript form takes a "
                                "form), must come from one of the site's origins, and are bounded in size."},
        "paths": paths,
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The admin token."},
                "basic": {"type": "http", "scheme": "basic", "description": "Any user name, the token as password."},
            },
        },
    }


def _version() -> str:
    try:
        return metadata.version("consent-gateway")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0"


def openapi_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    """The route's endpoint: the document serialised once, here, and served as is."""
    body = json.dumps(openapi_document(settings), separators=(",", ":")).encode()

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=JSON, headers={"Cache-Control": "public, max-age=300"})

    return endpoint
