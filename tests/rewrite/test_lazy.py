"""Lazy-loading attributes, as lazysizes, lozad, WP Rocket, jQuery Lazy, Tilda and Bitrix templates write them:
a script copies them into src later, so on a blocked host they are neutralised like src itself."""

from __future__ import annotations

import pytest

from tests.rewrite.conftest import BANNER, plan, run

YT = "https://www.youtube.com/embed/dQw4w9WgXcQ"
CASES = [
    ("lazysizes iframe",
     f'<iframe class="lazyload" data-src="{YT}" allowfullscreen></iframe>',
     f'<iframe data-consent-category="marketing" data-consent-style="" style="display:none" class="lazyload" '
     f'data-consent-data-src="{YT}" allowfullscreen></iframe>'),
    ("WP Rocket image",
     '<img src="data:image/svg+xml,%3Csvg%3E" data-lazy-src="https://mc.yandex.ru/watch/1" '
     'data-lazy-srcset="https://mc.yandex.ru/watch/1 1x" alt="">',
     '<img data-consent-category="analytics" src="data:image/svg+xml,%3Csvg%3E" '
     'data-consent-data-lazy-src="https://mc.yandex.ru/watch/1" '
     'data-consent-data-lazy-srcset="https://mc.yandex.ru/watch/1 1x" alt="">'),
    ("Tilda background",
     '<div class="t-bgimg" data-original="https://www.facebook.com/tr?id=1&amp;ev=PageView"></div>',
     '<div data-consent-category="marketing" class="t-bgimg" '
     'data-consent-data-original="https://www.facebook.com/tr?id=1&amp;ev=PageView"></div>'),
    ("lozad background image",
     "<section data-background-image=\"url('https://px.ads.linkedin.com/a.gif')\"></section>",
     "<section data-consent-category=\"marketing\" "
     "data-consent-data-background-image=\"url('https://px.ads.linkedin.com/a.gif')\"></section>"),
    ("WP Rocket background", '<div class="rocket-lazyload" data-bg="https://vk.com/rtrg?p=1"></div>',
     '<div data-consent-category="marketing" class="rocket-lazyload" data-consent-data-bg="https://vk.com/rtrg?p=1">'
     '</div>'),
]
UNTOUCHED = [
    '<img class="lazyload" data-src="/upload/iblock/1a2/photo.jpg" alt="">',  # Bitrix, the site's own
    '<div data-src="https://wgp.kz/upload/banner.jpg"></div>',
    '<img data-src="https://cdn.jsdelivr.net/npm/a@1/x.png">',  # allow-listed CDN
    '<a href="https://www.youtube.com/@wgp" data-title="channel">YouTube</a>',  # a link loads nothing
    '<div data-srcs="https://tracker.example/x"></div>',  # no rule names it
]


@pytest.mark.parametrize(("label", "tag", "expected"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("head_html", ["", BANNER], ids=["page", "after the banner"])
def test_a_lazy_attribute_on_a_blocked_host_is_neutralised(label: str, tag: str, expected: str, head_html: str) -> None:
    page = f"<p>x</p>{tag}".encode()
    out = run(page, plan(head_html=head_html))
    assert expected.encode() in out
    assert all(run(page, plan(head_html=head_html), [cut]) == out for cut in range(1, len(page)))


@pytest.mark.parametrize("tag", UNTOUCHED)
@pytest.mark.parametrize("head_html", ["", BANNER], ids=["page", "after the banner"])
def test_the_sites_own_and_unrelated_attributes_pass_byte_for_byte(tag: str, head_html: str) -> None:
    page = f"<p>x</p>{tag}".encode()
    assert tag.encode() in run(page, plan(head_html=head_html))


def test_granted_lazy_content_passes() -> None:
    tag = f'<iframe class="lazyload" data-src="{YT}"></iframe>'
    assert run(tag.encode(), plan(blocked=())) == tag.encode()
