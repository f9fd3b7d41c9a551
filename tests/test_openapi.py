"""The API contract: GET {prefix}/openapi.json, and schemathesis over the real app against it.

Every operation of the document gets a bounded number of generated requests (derandomized, so a run is
reproducible) through schemathesis' in-process ASGI client; each response must not be a 5xx and must conform
to the document: its status code is documented, its content type and headers are the documented ones and its
body validates against the (strict) schema. Writes carry an allowed Origin (the site's), admin operations the
admin token, and every other visitor operation a valid consent cookie (so receipt and erase answer 200 too, not
only 404), so both the refusals and the successes are checked.

Not checked: that schema-violating requests are refused (schemathesis' negative_data_rejection) and that every
schema-valid one is accepted (positive_data_acceptance). The API reads input leniently on purpose: unknown
fields are ignored, a Sec-GPC other than "1" counts as absent, and a well-formed but impossible date range is a
422 that no schema keyword can express.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.consent import ConsentState
from gateway.openapi import openapi_document
from gateway.settings import Settings, load_settings
from tests.conftest import ADMIN_TOKEN, BROWSER_UA, KEY, SITE, ClientFactory

PREFIX = "/_consent"
HOST = SITE.removeprefix("https://")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 25  # per operation; 20 operations share the budget of well under a minute on two cores


def _settings() -> Settings:
    data = Path(tempfile.mkdtemp(prefix="gateway-openapi-"))
    return load_settings(env={}, secret_keys=(KEY,), data_dir=data, admin_token=ADMIN_TOKEN)


APP_SETTINGS = _settings()

# Browsers send report-uri bodies as application/csp-report: JSON under another name.
schemathesis.serializer.alias("application/csp-report", "application/json")
APP = create_app(APP_SETTINGS)
schema = schemathesis.openapi.from_asgi(f"{PREFIX}/openapi.json", APP, headers={"Host": HOST})
COOKIE = APP_SETTINGS.cookie_name
VALID_COOKIE = APP.components.signer.dumps(ConsentState(
    consent_id="fuzz-visitor", decided=True, action="custom", granted=frozenset({"necessary", "analytics"}),
    policy_version=APP_SETTINGS.policy_version, decided_at=datetime.now(timezone.utc).replace(microsecond=0)))


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_response_matches_the_contract(case: schemathesis.Case) -> None:
    headers = {"Origin": SITE, "User-Agent": BROWSER_UA}
    if "/admin" in case.path or case.path.endswith("/metrics"):
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    cookies = case.cookies or {}
    if COOKIE in cookies and len(str(cookies[COOKIE])) % 2 == 0:  # half the generated cookies: a real one instead
        case.cookies = {**cookies, COOKIE: VALID_COOKIE}
    case.call_and_validate(base_url=SITE, headers=headers, checks=CHECKS)


# -- the document itself ------------------------------------------------------------------------------------------

ROUTES = [
    ("get", "/state"), ("put", "/state"), ("delete", "/state"), ("post", "/state"), ("get", "/receipt"),
    ("post", "/erase"), ("post", "/events"), ("post", "/csp-report"), ("get", "/config.json"),
    ("get", "/vendors.json"), ("get", "/declaration"), ("get", "/banner.js"), ("get", "/banner.css"),
    ("get", "/healthz"),
    ("get", "/openapi.json"), ("get", "/admin"), ("get", "/admin/"), ("get", "/admin/api/summary"),
    ("get", "/admin/api/summary.csv"), ("get", "/metrics"),
]


async def test_served_document_is_the_one_built_from_settings(make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings)
    response = await client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi_document(settings)


def test_document_names_every_route_with_its_method(settings: Settings) -> None:
    doc = openapi_document(settings)
    assert doc["openapi"] == "3.1.0"
    documented = {(method, path.removeprefix(PREFIX)) for path, item in doc["paths"].items() for method in item}
    assert documented == set(ROUTES)


def test_every_route_of_the_app_is_documented(settings: Settings) -> None:
    """The mounted routes and the document cannot drift apart: a new route without a contract fails here."""
    from gateway.admin import admin_routes

    c = create_app(settings).components
    routes = [*c.api.routes(), *admin_routes(token=settings.admin_token, store=c.store, metrics=c.metrics,
                                             timezone=settings.timezone)]
    mounted = {(method.lower(), PREFIX + route.path)
               for route in routes for method in route.methods - {"HEAD"}}  # type: ignore[attr-defined]
    documented = {(method, path) for path, item in openapi_document(settings)["paths"].items() for method in item}
    assert mounted == documented


def test_admin_operations_need_bearer_or_basic(settings: Settings) -> None:
    doc = openapi_document(settings)
    assert doc["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": "The admin token."},
        "basic": {"type": "http", "scheme": "basic", "description": "Any user name, the token as password."},
    }
    for path, item in doc["paths"].items():
        admin = "/admin" in path or path.endswith("/metrics")
        for method, operation in item.items():
            assert ("security" in operation) == admin, (method, path)


def test_prefix_categories_and_languages_come_from_settings(settings: Settings) -> None:
    custom = dataclasses.replace(settings, prefix="/cg", categories=("necessary", "analytics"), languages=("en",),
                                 default_language="en")
    doc = openapi_document(custom)
    assert all(path.startswith("/cg/") for path in doc["paths"])
    schemas = doc["components"]["schemas"]
    assert list(schemas["Categories"]["properties"]) == ["necessary", "analytics"]
    assert schemas["BannerConfig"]["properties"]["lang"] == {"enum": ["en"]}


@pytest.mark.parametrize("body, valid", [
    ({"error": "forbidden", "message": "no"}, True),
    ({"error": "unprocessable", "message": "bad", "parameter": "from"}, True),
    ({"error": "forbidden"}, False),
    ({"error": "forbidden", "message": "no", "detail": "extra"}, False),
])
def test_error_schema_is_strict(settings: Settings, body: dict[str, str], valid: bool) -> None:
    validator = jsonschema_rs.Draft202012Validator(openapi_document(settings)["components"]["schemas"]["Error"])
    assert validator.is_valid(body) is valid


def test_summary_names_are_the_store_summarys() -> None:
    from gateway import openapi
    from gateway.store import summary
    assert (openapi.TOTALS, openapi.DAY_COUNTS, openapi.BREAKDOWNS, openapi.BREAKDOWN_COUNTS) == (
        summary.TOTALS, summary.DAY_COUNTS, summary.BREAKDOWNS, summary.BREAKDOWN_COUNTS)


def test_openapi_document_is_valid_openapi_31(settings: Settings) -> None:
    """schemathesis' own loader validates the document against the OpenAPI 3.1 meta-schema."""
    loaded = schemathesis.openapi.from_dict(openapi_document(settings))
    assert len(list(loaded.get_all_operations())) == len(ROUTES)

