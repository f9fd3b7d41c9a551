"""ConsentMiddleware inside a small Starlette app: the app's own pages are rewritten per visitor."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.app import Components, ConsentMiddleware
from gateway.consent import ConsentState, new_consent_id
from gateway.settings import Settings

from .conftest import BROWSER_UA, SITE

GA = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>'
PIXEL = '<img height="1" width="1" src="https://www.facebook.com/tr?id=1&ev=PageView">'
OWN = '<script src="/static/app.js"></script>'
PAGE = f"<!doctype html><html><head><title>WGP</title>{GA}{OWN}</head><body><h1>Hi</h1>{PIXEL}</body></html>"


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"Cache-Control": "public, max-age=600", "ETag": '"v1"',
                                       "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"})


async def cookies(request: Request) -> Response:
    response = JSONResponse({"consent": request.state.consent.decided})
    response.set_cookie("_ga", "GA1.1.1")
    response.set_cookie("_fbp", "fb.1.2")
    response.set_cookie("sessionid", "abc")
    return response


async def streamed(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (PAGE[:30], PAGE[30:95], PAGE[95:]):
            yield part.encode()

    return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")


async def nonce_page(request: Request) -> Response:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": "script-src 'nonce-r4nd0m' 'strict-dynamic'"})


def build(settings: Settings) -> tuple[httpx.AsyncClient, Components]:
    app = Starlette(routes=[Route("/", page), Route("/cookies", cookies), Route("/stream", streamed),
                            Route("/nonce", nonce_page)])
    wrapped = ConsentMiddleware(app, settings=settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url=SITE,
                               headers={"user-agent": BROWSER_UA})
    return client, wrapped.components


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Components]]:
    client, gateway = build(settings)
    await gateway.startup()
    yield client, gateway
    await client.aclose()
    await gateway.shutdown()


def cookie_for(gateway: Components, *granted: str) -> str:
    state = ConsentState(consent_id=new_consent_id(), decided=True, action="custom",
                         granted=frozenset({"necessary", *granted}), policy_version=gateway.settings.policy_version)
    return gateway.signer.dumps(state)


async def test_new_visitor_gets_trackers_blocked_and_banner(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    r = await client.get("/")
    html = r.text
    assert ' src="https://www.googletagmanager.com' not in html
    assert 'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"' in html
    assert 'data-consent-category="analytics"' in html and 'type="text/plain"' in html
    assert ' src="https://www.facebook.com/tr' not in html
    assert OWN in html and "<h1>Hi</h1>" in html
    assert f'src="{gateway.banner_src}"' in html
    assert html.index("banner.js") < html.index("</head>")
    assert "'analytics_storage':" not in html and '"analytics_storage":"denied"' in html
    assert "content-length" not in r.headers or int(r.headers["content-length"]) == len(r.content)
    assert r.headers["cache-control"].startswith("private") and "public" not in r.headers["cache-control"]
    assert "Cookie" in r.headers["vary"]
    # Undecided: the policy of a refusal, so a tag a site script injects before any choice is refused and reported.
    assert r.headers.get_list("content-security-policy") == [REJECTED_ALL_CSP]
    assert 'data-consent-csp="necessary"' in html  # the first choice that grants more reloads the page once
    assert '<body><noscript><form method="post" action="/_consent/state" data-consent-noscript' in html


# A visitor who refused everything: the shipped allow-list (public CDNs) and the necessary vendors (captchas
# and payment forms).
REJECTED_ALL_CSP = (
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob: "
    "*.ajax.googleapis.com *.bootstrapcdn.com *.cdn.jsdelivr.net *.cdnjs.cloudflare.com *.challenges.cloudflare.com "
    "*.cloudpayments.ru *.code.jquery.com *.hcaptcha.com *.recaptcha.net *.smartcaptcha.yandexcloud.net "
    "*.static.tildacdn.com *.stripe.com *.stripe.network *.thb.tildacdn.com *.unpkg.com *.yookassa.ru "
    "ajax.googleapis.com bootstrapcdn.com cdn.jsdelivr.net cdnjs.cloudflare.com challenges.cloudflare.com "
    "cloudpayments.ru code.jquery.com hcaptcha.com recaptcha.net smartcaptcha.yandexcloud.net static.tildacdn.com "
    "stripe.com stripe.network thb.tildacdn.com unpkg.com www.google.com/recaptcha/ www.gstatic.com/recaptcha/ "
    "yookassa.ru; report-uri /_consent/csp-report"
)


async def test_decided_visitor_csp_admits_only_granted(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway), domain="wgp.kz")
    assert (await client.get("/")).headers.get_list("content-security-policy") == [REJECTED_ALL_CSP]


async def test_the_same_page_is_edited_per_consent_class_one_after_another(
        site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    first = await client.get("/")  # undecided: a refusal's policy, banner injected
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway, "analytics"), domain="wgp.kz")
    second = await client.get("/")
    client.cookies.clear()
    third = await client.get("/")
    assert first.headers["content-security-policy"] == REJECTED_ALL_CSP
    assert "mc.yandex.ru" in second.headers["content-security-policy"]
    assert "facebook" not in second.headers["content-security-policy"]
    assert '"analytics_storage":"granted"' in second.text and '"analytics_storage":"denied"' in third.text
    assert third.headers["content-security-policy"] == first.headers["content-security-policy"]


async def test_consented_visitor_gets_analytics_untouched(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway, "analytics"), domain="wgp.kz")
    html = (await client.get("/")).text
    assert GA in html
    assert ' src="https://www.facebook.com/tr' not in html
    assert '"analytics_storage":"granted"' in html and '"ad_storage":"denied"' in html
    r = await client.get("/")
    assert "googletagmanager.com" in r.headers["content-security-policy"]


async def test_everything_granted_leaves_page_unchanged_but_banner(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    client.cookies.set(gateway.settings.cookie_name,
                       cookie_for(gateway, "preferences", "analytics", "marketing"), domain="wgp.kz")
    r = await client.get("/")
    assert GA in r.text and PIXEL in r.text
    head, _, rest = r.text.partition("</head>")
    assert rest == PAGE.partition("</head>")[2]
    assert r.headers["content-security-policy"] == ("default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob: *; "
                                                   "report-uri /_consent/csp-report")


async def test_bots_get_no_banner_and_no_trackers(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    html = (await client.get("/", headers={"user-agent": "Mozilla/5.0 (compatible; YandexBot/3.0)"})).text
    assert "banner.js" not in html
    assert ' src="https://www.googletagmanager.com' not in html


async def test_set_cookie_of_refused_categories_is_dropped(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    r = await client.get("/cookies")
    names = sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie"))
    assert names == ["sessionid"]
    assert r.json() == {"consent": False}
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway, "analytics"), domain="wgp.kz")
    r = await client.get("/cookies")
    assert sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie")) == ["_ga", "sessionid"]
    assert r.json() == {"consent": True}
    assert "content-security-policy" not in r.headers  # JSON is not rewritten


async def test_streamed_html_is_filtered(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    html = (await client.get("/stream")).text
    assert 'data-consent-src="https://www.googletagmanager.com' in html and "banner.js" in html


async def test_origin_csp_kept_and_nonce_copied(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    r = await client.get("/nonce")
    policies = r.headers.get_list("content-security-policy")
    assert "script-src 'nonce-r4nd0m' 'strict-dynamic'" in policies and len(policies) == 2
    assert '<script nonce="r4nd0m" src="/_consent/banner.js' in r.text


async def test_consent_api_is_served_by_the_middleware(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    r = await client.put("/_consent/state", content=b'{"action":"accept_all"}',
                         headers={"content-type": "application/json", "origin": SITE})
    assert r.status_code == 200
    assert GA in (await client.get("/")).text


async def test_report_only_mode(settings: Settings) -> None:
    client, gateway = build(dataclasses.replace(settings, csp_mode="report-only"))
    await gateway.startup()
    try:
        r = await client.get("/")
        assert "content-security-policy-report-only" in r.headers and "content-security-policy" not in r.headers
    finally:
        await client.aclose()
        await gateway.shutdown()


def test_middleware_without_settings_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="settings"):
        ConsentMiddleware(Starlette())


async def test_rewrite_cache_never_serves_one_visitors_page_to_another(
        site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    blocked = (await client.get("/")).text
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway, "analytics"), domain="wgp.kz")
    allowed = (await client.get("/")).text
    client.cookies.clear()
    again = (await client.get("/")).text
    assert GA in allowed and GA not in blocked and again == blocked


async def test_rewrite_cache_output_equals_streamed_output(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    whole = (await client.get("/")).text
    streamed = (await client.get("/stream")).text
    assert whole == streamed


async def test_consent_mode_defaults_come_before_the_first_page_script(
        site: tuple[httpx.AsyncClient, Components]) -> None:
    client, gateway = site
    client.cookies.set(gateway.settings.cookie_name, cookie_for(gateway, "analytics"), domain="wgp.kz")
    html = (await client.get("/")).text
    default = html.index("gtag('consent','default'")
    assert default < html.index(GA) < html.index("banner.js") < html.index("</head>")
    assert html.index("<title>WGP</title>") < default  # after what precedes the first script, e.g. <meta charset>


async def test_iframe_placeholder_names_vendor_and_category_in_page_language(settings: Settings) -> None:
    async def video(request: Request) -> Response:
        return HTMLResponse('<html><head></head><body><iframe src="https://www.youtube.com/embed/x"></iframe>'
                            "</body></html>")

    app = Starlette(routes=[Route("/", video)])
    app.add_middleware(ConsentMiddleware, settings=settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE,
                                 headers={"user-agent": BROWSER_UA}) as client:
        ru = (await client.get("/", headers={"accept-language": "ru"})).text
        en = (await client.get("/", headers={"accept-language": "en"})).text
    assert "YouTube" in ru and "Маркетинг" in ru and "marketing»" not in ru
    assert "YouTube" in en and "Marketing" in en


async def test_head_of_a_rewritten_page_carries_no_stale_length(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    r = await client.head("/")
    assert r.status_code == 200 and r.content == b""
    assert "content-length" not in r.headers and r.headers["cache-control"].startswith("private")
    assert "content-security-policy" in r.headers


async def test_whole_page_gets_its_exact_length_streamed_page_none(site: tuple[httpx.AsyncClient, Components]) -> None:
    client, _ = site
    whole = await client.get("/")
    assert int(whole.headers["content-length"]) == len(whole.content) > len(PAGE)
    streamed = await client.get("/stream")
    assert "content-length" not in streamed.headers and streamed.content == whole.content


async def test_rewritten_page_carries_no_origin_validators(site: tuple[httpx.AsyncClient, Components]) -> None:
    """A 304 after a consent change must not revive another consent class's page from the browser cache."""
    client, _ = site
    r = await client.get("/")
    assert "etag" not in r.headers and "last-modified" not in r.headers
