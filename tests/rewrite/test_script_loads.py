"""Inline scripts are classified by what they load, not by what they mention: the site's own code that calls a
vendor's global passes byte for byte; a loader, or a string holding a vendor's script or pixel URL, is blocked."""

from __future__ import annotations

import pytest

from tests.rewrite.conftest import BANNER, plan, run

FIRST_PARTY = {
    "jQuery ready handler calling vendors' globals": """
jQuery(function ($) {
  $('html').addClass('js-ready');
  $('#callback-form').on('submit', function () {
    if (window.ttq) { window.ttq.track('SubmitForm'); }
    if (window._tmr) { _tmr.push({ type: 'reachGoal', id: 3456789, goal: 'lead' }); }
    if (window.ym) { ym(98765432, 'reachGoal', 'callback'); }
    if (window.gtag) { gtag('event', 'generate_lead', { form: 'callback' }); }
    if (window.fbq) { fbq('track', 'Lead'); }
    window.dataLayer = window.dataLayer || [];
    dataLayer.push({ event: 'form_submit' });
  });
});""",
    "Bitrix": "BX.ready(function(){ BX.bind(BX('order'), 'click', function(){ if (window.VK) VK.Goal('lead'); }); });",
    "a link to the company's channel": "document.querySelector('.yt').href = 'https://www.youtube.com/@wgp';",
    "a share button": "function share(u){ window.open('https://vk.com/share.php?url=' + encodeURIComponent(u)); }",
    "a comment naming a vendor's docs": "// see https://developers.facebook.com/docs/meta-pixel\nvar a = 1;",
    "the site's own endpoint": "fetch('https://api.wgp.kz/v1/leads', {method: 'POST'});",
}
LOADERS = {
    "Metrika tag.js inserted by hand": ("analytics", """
(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};
k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})
(window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");"""),
    "a pixel written by document.write": ("marketing",
                                          "document.write('<img src=\"https://vk.com/rtrg?p=VK-RTRG-123\" alt=\"\">');"),
    "a pixel through innerHTML": ("marketing",
                                  "el.innerHTML = '<img height=1 width=1 src=https://www.facebook.com/tr?id=1&ev=PageView>';"),
    "JSON-escaped script URL": ("marketing", 'var cfg = {"src": "https:\\/\\/connect.facebook.net\\/en_US\\/fbevents.js"};'),
    "protocol-relative script URL": ("analytics", "s.src = '//www.google-analytics.com/analytics.js';"),
}


@pytest.mark.parametrize("body", FIRST_PARTY.values(), ids=FIRST_PARTY.keys())
@pytest.mark.parametrize("head_html", ["", BANNER], ids=["page", "after the banner"])
def test_the_sites_own_script_passes_byte_for_byte(body: str, head_html: str) -> None:
    script = f"<script>{body}</script>"
    assert script.encode() in run(f"<p>x</p>{script}".encode(), plan(head_html=head_html))


@pytest.mark.parametrize(("category", "body"), LOADERS.values(), ids=LOADERS.keys())
def test_a_script_that_loads_a_blocked_vendor_is_blocked(category: str, body: str) -> None:
    page = f"<p>x</p><script>{body}</script>".encode()
    out = run(page, plan())
    assert f'<script type="text/plain" data-consent-category="{category}">{body}</script>'.encode() in out
    assert all(run(page, plan(), [cut]) == out for cut in range(1, len(page), 7))


@pytest.mark.parametrize(("category", "body"), LOADERS.values(), ids=LOADERS.keys())
def test_granted_it_runs(category: str, body: str) -> None:
    script = f"<script>{body}</script>".encode()
    assert run(script, plan(blocked={"preferences", "analytics", "marketing"} - {category})) == script


RULES = '{"prerender": [{"source": "list", "urls": ["%s"]}]}'


def test_speculation_rules_naming_a_blocked_host_are_blocked() -> None:
    body = RULES % "https://www.facebook.com/wgp"
    out = run(f'<script type="speculationrules">{body}</script>'.encode(), plan())
    assert out == (f'<script type="text/plain" data-consent-category="marketing" '
                   f'data-consent-type="speculationrules">{body}</script>').encode()


def test_speculation_rules_for_the_sites_own_pages_pass() -> None:
    script = f'<script type="speculationrules">{RULES % "/services"}</script>'.encode()
    assert run(script, plan()) == script
