"""The vendor catalogue: what a site owner sees blocked or allowed, and what a bad catalogue says."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.vendors import Catalogue, split_url
from gateway.vocabulary import CATEGORIES

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "vendors.toml"
SITE = frozenset({"wgp.kz"})


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(SHIPPED)


REQUIRED_VENDORS = [
    ("google-tag-manager", "analytics"),
    ("google-analytics", "analytics"),
    ("yandex-metrika", "analytics"),
    ("hotjar", "analytics"),
    ("microsoft-clarity", "analytics"),
    ("google-ads", "marketing"),
    ("meta-pixel", "marketing"),
    ("linkedin-insight", "marketing"),
    ("tiktok-pixel", "marketing"),
    ("vk-pixel", "marketing"),
    ("yandex-direct", "marketing"),
    ("top-mail-ru", "marketing"),
    ("bing-uet", "marketing"),
    ("x-twitter", "marketing"),
    ("criteo", "marketing"),
    ("pinterest", "marketing"),
    ("youtube", "marketing"),
    ("vimeo", "marketing"),
    ("google-maps", "preferences"),
    ("yandex-maps", "preferences"),
    ("2gis", "preferences"),
    ("jivo", "preferences"),
    ("recaptcha", "necessary"),
    ("cloudflare-turnstile", "necessary"),
]


def test_shipped_catalogue_has_eighty_vendors_with_everything_the_banner_lists(catalogue: Catalogue) -> None:
    assert len(catalogue.vendors) >= 80
    for vendor in catalogue.vendors:
        assert vendor.name and vendor.purpose and vendor.category in CATEGORIES
        assert vendor.policy_url.startswith("https://")
        assert vendor.hosts or vendor.paths


def test_every_shipped_vendor_has_russian_and_kazakh_purposes(catalogue: Catalogue) -> None:
    kazakh_letters = set("әғқңөұүһі")
    for vendor in catalogue.vendors:
        ru, kk = vendor.purpose_for("ru"), vendor.purpose_for("kk")
        assert ru != vendor.purpose and kk != vendor.purpose and ru != kk, vendor.id
        assert any("а" <= ch.lower() <= "я" for ch in ru), vendor.id
        assert kazakh_letters.intersection(kk.lower()), vendor.id
        assert "\n" not in ru + kk and len(ru) < 120 and len(kk) < 120
    assert catalogue.vendor_for_url("https://google-analytics.com/").purpose_for("en").startswith("Counts visits")  # type: ignore[union-attr]


@pytest.mark.parametrize(("vendor_id", "category"), REQUIRED_VENDORS)
def test_required_vendor_is_present_in_its_category(catalogue: Catalogue, vendor_id: str, category: str) -> None:
    by_id = {v.id: v for v in catalogue.vendors}
    assert by_id[vendor_id].category == category


URLS = [
    # the real tag URLs sites paste
    ("https://www.googletagmanager.com/gtm.js?id=GTM-5P9HHLS", "analytics"),
    ("https://www.googletagmanager.com/gtag/js?id=G-WGP1234567", "analytics"),
    ("https://www.googletagmanager.com/gtag/js?id=AW-951209823", "marketing"),
    ("https://www.google-analytics.com/analytics.js", "analytics"),
    ("https://mc.yandex.ru/metrika/tag.js", "analytics"),
    ("//mc.yandex.ru/watch/95712345", "analytics"),
    ("https://static.hotjar.com/c/hotjar-1625078.js?sv=6", "analytics"),
    ("https://www.clarity.ms/tag/ttu5iu9lg1", "analytics"),
    ("https://connect.facebook.net/en_US/fbevents.js", "marketing"),
    ("https://www.facebook.com/tr?id=1&ev=PageView&noscript=1", "marketing"),
    ("https://snap.licdn.com/li.lms-analytics/insight.min.js", "marketing"),
    ("https://px.ads.linkedin.com/collect/?pid=1&fmt=gif", "marketing"),
    ("https://analytics.tiktok.com/i18n/pixel/events.js", "marketing"),
    ("https://vk.com/rtrg?p=VK-RTRG-1", "marketing"),
    ("https://top-fwz1.mail.ru/js/code.js", "marketing"),
    ("https://yandex.ru/ads/system/context.js", "marketing"),
    ("//bat.bing.com/bat.js", "marketing"),
    ("https://static.ads-twitter.com/uwt.js", "marketing"),
    ("https://s.pinimg.com/ct/core.js", "marketing"),
    ("https://www.youtube.com/embed/dQw4w9WgXcQ", "marketing"),
    ("https://player.vimeo.com/video/1", "marketing"),
    ("https://maps.googleapis.com/maps/api/js?key=x", "preferences"),
    ("https://api-maps.yandex.ru/2.1/?lang=ru_RU", "preferences"),
    # A map the visitor allowed must show its tiles and static images, not only load its script.
    ("https://core-renderer-tiles.maps.yandex.net/tiles?l=map&x=1&y=2&z=3", "preferences"),
    ("https://static-maps.yandex.ru/1.x/?ll=51.92,47.11&z=12&l=map", "preferences"),
    ("https://yastatic.net/s3/front-maps-static/maps-front-jsapi-v2-1/2.1.79/build/full.js", "preferences"),
    ("https://yastatic.net/share2/share.js", "marketing"),  # Yandex's share buttons: the rest of the host
    ("https://yandex.kz/map-widget/v1/?um=constructor", "preferences"),
    ("https://maps.api.2gis.ru/2.0/loader.js", "preferences"),
    ("//code.jivo.ru/widget/AbCd", "preferences"),
    ("https://fonts.googleapis.com/css2?family=Inter", "preferences"),
    ("https://challenges.cloudflare.com/turnstile/v0/api.js", "necessary"),
    # shared Google hosts: the path decides, the most specific entry wins
    ("https://www.google.com/recaptcha/api.js", "necessary"),
    ("https://www.gstatic.com/recaptcha/releases/x/recaptcha__ru.js", "necessary"),
    ("https://www.google.com/maps/embed?pb=1", "preferences"),
    ("https://www.google.com/pagead/1p-user-list/1/", "marketing"),
    ("https://www.google.com/search?q=recaptcha/", "marketing"),  # unknown path on a shared host
    # unknown third parties are blocked as marketing; label suffixes are not substrings
    ("https://tracker.example/t.js", "marketing"),
    ("https://evilgoogle-analytics.com/x.js", "marketing"),
    ("https://google-analytics.com.evil.example/x.js", "marketing"),
]


@pytest.mark.parametrize(("url", "category"), URLS)
def test_category_for_url(catalogue: Catalogue, url: str, category: str) -> None:
    assert catalogue.category_for_url(url, SITE) == category


LOAD_FREELY = [
    "/static/js/site.js",
    "static/img/a.png",
    "?page=2",
    "#top",
    "https://wgp.kz/static/a.js",
    "https://cdn.wgp.kz/a.js",  # first-party is a suffix match
    "https://WGP.KZ./a.js",
    "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
    "blob:https://wgp.kz/0b1c",
    "javascript:void(0)",
    "about:blank",
    "mailto:info@wgp.kz",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5/dist/js/bootstrap.min.js",
    "https://unpkg.com/htmx.org@1.9.10",
]


@pytest.mark.parametrize("url", LOAD_FREELY)
def test_relative_first_party_local_and_allow_listed_urls_load_freely(catalogue: Catalogue, url: str) -> None:
    assert catalogue.category_for_url(url, SITE) is None


DISGUISED = [
    "https:\\\\tracker.example\\t.js",  # browsers read backslashes as slashes
    "/\\tracker.example/t.js",
    "  //tracker.example/t.js  ",
    "//tra\tcker.example/t.js",  # tabs and newlines are removed before parsing
    "https://user:pw@tracker.example:8443/t.js",
    "HTTPS://TRACKER.EXAMPLE/t.js",
    "https://%74racker.example/t.js",
    "https://wgp.kz@tracker.example/t.js",
]


@pytest.mark.parametrize("url", DISGUISED)
def test_disguised_third_party_urls_are_not_taken_for_first_party(catalogue: Catalogue, url: str) -> None:
    assert split_url(url) is not None and split_url(url)[0] == "tracker.example"  # type: ignore[index]
    assert catalogue.category_for_url(url, SITE) == "marketing"


def test_vendor_for_url_walks_host_labels(catalogue: Catalogue) -> None:
    assert catalogue.vendor_for_url("https://region1.google-analytics.com/").id == "google-analytics"  # type: ignore[union-attr]
    assert catalogue.vendor_for_url("https://WWW.YOUTUBE.COM/").id == "youtube"  # type: ignore[union-attr]
    assert catalogue.vendor_for_url("https://example.org/") is None


INLINE = [
    ("(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':", "google-tag-manager"),
    ("i['GoogleAnalyticsObject']=r;i[r]=i[r]||function(){", "google-analytics"),
    ("fbq('init', '2043440376090642');", "meta-pixel"),
    ('_linkedin_partner_id = "5123456";', "linkedin-insight"),
    ('(window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");', "yandex-metrika"),
    ("h._hjSettings={hjid:1625078,hjsv:6};", "hotjar"),
    ('t.src="https://www.clarity.ms/tag/"+i;', "microsoft-clarity"),
    ("w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];", "tiktok-pixel"),
    ('ts.src = "https://top-fwz1.mail.ru/js/code.js";', "top-mail-ru"),
    ('"script","//bat.bing.com/bat.js","uetq"', "bing-uet"),
]


@pytest.mark.parametrize(("text", "vendor_id"), INLINE)
def test_inline_snippet_is_recognised(catalogue: Catalogue, text: str, vendor_id: str) -> None:
    assert catalogue.vendors_for_inline_bytes(text.encode())[0].id == vendor_id  # type: ignore[union-attr]
    assert vendor_id in [v.id for v in catalogue.vendors_for_inline_bytes(text.encode())]


def test_long_script_finds_the_same_vendors_in_order_of_appearance(catalogue: Catalogue) -> None:
    filler = "var x = document.querySelector('.menu');\n" * 500
    body = (filler + "fbq('init', '1');" + filler + "ym(1); mc.yandex.ru/metrika/tag.js" + filler + "fbq('init'").encode()
    assert [v.id for v in catalogue.vendors_for_inline_bytes(body)] == ["meta-pixel", "yandex-metrika"]


def test_ordinary_script_matches_no_vendor(catalogue: Catalogue) -> None:
    text = "function enzym(x) { return rhythm(x); } document.querySelector('.menu').classList.add('open');"
    assert catalogue.vendors_for_inline_bytes(text.encode()) == ()
    assert catalogue.vendors_for_inline_bytes(text.encode()) == ()


COOKIES = [
    ("_ga", "analytics"),
    ("_ga_WGP1234567", "analytics"),
    ("_ym_uid", "analytics"),
    ("_fbp", "marketing"),
    ("_gcl_au", "marketing"),
    ("_GRECAPTCHA", "necessary"),
    ("csrftoken", None),
    ("sessionid", None),
]


@pytest.mark.parametrize(("name", "category"), COOKIES)
def test_category_for_cookie(catalogue: Catalogue, name: str, category: str | None) -> None:
    assert catalogue.category_for_cookie(name) == category


def test_hosts_by_category(catalogue: Catalogue) -> None:
    hosts = catalogue.hosts_for(["marketing"])
    assert "connect.facebook.net" not in hosts and "facebook.net" in hosts
    assert "www.google.com/pagead/" in hosts
    assert "www.googletagmanager.com/gtag/js" in hosts and not any("?" in h for h in hosts)
    assert "google-analytics.com" not in hosts


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vendors.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[allow]
hosts = ["cdn.example"]

[vendors.stats]
name = "Stats"
category = "analytics"
purpose = "Counts visits."
policy_url = "https://stats.example/privacy"
hosts = ["stats.example"]
signatures = ["stats.init("]
cookies = ["_st_*"]
"""


def test_site_overrides_add_vendors_and_allow_hosts(tmp_path: Path) -> None:
    extra = {
        "vendors": {
            "stats": {"category": "marketing"},
            "chat": {
                "name": "Chat",
                "category": "preferences",
                "purpose": "Support chat.",
                "policy_url": "https://chat.example/privacy",
                "hosts": ["chat.example"],
            },
        },
        "allow": {"hosts": ["static.partner.example"]},
    }
    catalogue = Catalogue.load(write(tmp_path, GOOD), extra)
    assert catalogue.category_for_url("https://stats.example/s.js", SITE) == "marketing"
    assert catalogue.vendor_for_url("https://stats.example/").purpose == "Counts visits."  # type: ignore[union-attr]
    assert catalogue.category_for_url("https://widget.chat.example/w.js", SITE) == "preferences"
    assert catalogue.category_for_url("https://static.partner.example/a.js", SITE) is None
    assert catalogue.category_for_url("https://cdn.example/a.js", SITE) is None


def test_site_overrides_translate_purposes_and_a_new_english_purpose_drops_stale_ones(tmp_path: Path) -> None:
    text = GOOD.replace('purpose = "Counts visits."', 'purpose = "Counts visits."\npurpose_ru = "Считает посещения."')
    shipped = Catalogue.load(write(tmp_path, text)).vendor_for_url("https://stats.example/")
    assert shipped.purpose_for("ru") == "Считает посещения." and shipped.purpose_for("kk") == "Counts visits."  # type: ignore[union-attr]
    added = Catalogue.load(write(tmp_path, text), {"vendors": {"stats": {"purpose_kk": "Кірулерді санайды."}}})
    stats = added.vendor_for_url("https://stats.example/")
    assert (stats.purpose_for("ru"), stats.purpose_for("kk")) == ("Считает посещения.", "Кірулерді санайды.")  # type: ignore[union-attr]
    reworded = Catalogue.load(write(tmp_path, text), {"vendors": {"stats": {"purpose": "Counts and tracks."}}})
    assert reworded.vendor_for_url("https://stats.example/").purpose_for("ru") == "Counts and tracks."  # type: ignore[union-attr]


def test_site_vendor_takes_over_a_shipped_host(tmp_path: Path) -> None:
    own = {"name": "Our stats", "category": "analytics", "purpose": "Counts.", "policy_url": "https://wgp.kz/p",
           "hosts": ["stats.example"]}
    catalogue = Catalogue.load(write(tmp_path, GOOD), {"vendors": {"ours": own}})
    assert catalogue.vendor_for_url("https://stats.example/").id == "ours"  # type: ignore[union-attr]


def test_allow_list_wins_over_a_vendor_host(tmp_path: Path) -> None:
    catalogue = Catalogue.load(write(tmp_path, GOOD), {"allow": {"hosts": ["stats.example"]}})
    assert catalogue.category_for_url("https://stats.example/s.js", SITE) is None


BAD = [
    ('category = "analytic"', "vendor 'stats': field 'category': unknown category 'analytic'"),
    ('policy_url = ""', "vendor 'stats': field 'policy_url' must be a non-empty string"),
    ('hosts = "stats.example"', "vendor 'stats': field 'hosts' must be a list of strings"),
    ('hosts = ["https://stats.example/"]', "vendor 'stats': field 'hosts'"),
    ('paths = ["stats.example"]', "vendor 'stats': field 'paths'"),
    ('signatures = ["статистика"]', "vendor 'stats': field 'signatures': signatures must be non-empty ASCII"),
    ('colour = "blue"', "vendor 'stats': unknown field 'colour'"),
    ('purpose_ru = ""', "vendor 'stats': field 'purpose_ru' must be a non-empty string"),
    ("purpose_kk = 3", "vendor 'stats': field 'purpose_kk' must be a non-empty string"),
    ('purpose_de = "Zählt."', "vendor 'stats': unknown field 'purpose_de'"),
    ('country = "USA"', "vendor 'stats': field 'country': 'USA' is not an ISO 3166-1 alpha-2 code"),
    ('country = "us"', "vendor 'stats': field 'country': 'us' is not an ISO 3166-1 alpha-2 code"),
    ('cookie_days = 30', "vendor 'stats': field 'cookie_days' must be a table of cookie name = days"),
    ('cookie_days = { "_st_*" = -1 }', "vendor 'stats': field 'cookie_days': '_st_\\*': days must be an integer"),
    ('cookie_days = { "_st_*" = 1.5 }', "vendor 'stats': field 'cookie_days': '_st_\\*': days must be an integer"),
    ('cookie_days = { "other" = 30 }', "vendor 'stats': field 'cookie_days': 'other' is not in its cookies"),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_field_names_vendor_and_field(tmp_path: Path, line: str, message: str) -> None:
    field_name = line.split(" ")[0]
    lines = [ln for ln in GOOD.splitlines() if not ln.startswith(field_name + " ")] + [line]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Catalogue.load(write(tmp_path, "\n".join(lines)))


def test_missing_field_is_named(tmp_path: Path) -> None:
    text = "\n".join(ln for ln in GOOD.splitlines() if not ln.startswith("purpose"))
    with pytest.raises(ValueError, match="vendor 'stats': missing field 'purpose'"):
        Catalogue.load(write(tmp_path, text))


def test_new_vendor_in_site_config_must_be_complete(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gateway.toml: vendor 'chat': missing field 'name'"):
        Catalogue.load(write(tmp_path, GOOD), {"vendors": {"chat": {"category": "preferences"}}})


def test_host_claimed_twice_names_both_vendors(tmp_path: Path) -> None:
    text = GOOD + GOOD.split("[vendors.stats]")[1].join(["\n[vendors.copy]", ""])
    with pytest.raises(ValueError, match="host 'stats.example' is already claimed by vendor 'stats'"):
        Catalogue.load(write(tmp_path, text))


def test_country_says_whether_data_cross_the_border(tmp_path: Path) -> None:
    base = {"name": "X", "category": "analytics", "purpose": "Counts.", "policy_url": "https://x.example/p",
            "hosts": []}
    cat = Catalogue.load(write(tmp_path, GOOD), {"vendors": {
        "home": {**base, "hosts": ["home.example"], "country": "KZ"},
        "away": {**base, "hosts": ["away.example"], "country": "RU"},
        "who": {**base, "hosts": ["who.example"]}}})
    found = {v.id: v for v in cat.vendors}
    assert (found["home"].cross_border, found["away"].cross_border, found["who"].cross_border) == (False, True, None)
    assert found["who"].country == "unknown"


def test_site_dropping_a_cookie_drops_its_lifetime(tmp_path: Path) -> None:
    text = GOOD + 'cookie_days = { "_st_*" = 30 }\n'
    assert Catalogue.load(write(tmp_path, text)).vendors[0].days_for("_st_*") == 30
    cat = Catalogue.load(write(tmp_path, text), {"vendors": {"stats": {"cookies": ["other"]}}})
    assert cat.vendors[0].cookie_days == () and cat.vendors[0].days_for("_st_*") is None
