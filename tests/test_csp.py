"""gateway/csp.py: the per-visitor Content-Security-Policy, stated header by header."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gateway.csp import ENFORCE, REPORT_ONLY, CspBuilder
from gateway.vendors import Catalogue
from gateway.vocabulary import CATEGORIES

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "vendors.toml"
REPORT = "/_consent/csp-report"
KEYWORDS = "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:"

# A catalogue small enough to state every header in full. It has the shapes the covering rule cares about:
# a vendor host under another vendor's host (pixel.ads.example), a path entry on a host that another category
# owns whole (tags.example/ads/, with a query CSP cannot carry; ads.example/measure/), and an allow-listed CDN.
TINY = """
[allow]
hosts = ["cdn.example"]

[vendors.maps]
name = "Maps"
category = "preferences"
purpose = "Shows a map."
policy_url = "https://maps.example/privacy"
hosts = ["maps.example"]

[vendors.tags]
name = "Tags"
category = "analytics"
purpose = "Loads tags."
policy_url = "https://tags.example/privacy"
hosts = ["tags.example"]

[vendors.stats]
name = "Stats"
category = "analytics"
purpose = "Counts visits."
policy_url = "https://stats.example/privacy"
hosts = ["stats.example"]
paths = ["ads.example/measure/"]

[vendors.ads]
name = "Ads"
category = "marketing"
purpose = "Shows ads."
policy_url = "https://ads.example/privacy"
hosts = ["ads.example"]
paths = ["tags.example/ads/?id=AW-"]

[vendors.pixel]
name = "Pixel"
category = "marketing"
purpose = "Tracks conversions."
policy_url = "https://pixel.ads.example/privacy"
hosts = ["pixel.ads.example"]
"""

NOTHING = frozenset[str]()
PREFERENCES = frozenset({"preferences"})
ANALYTICS = frozenset({"analytics"})
MARKETING = frozenset({"marketing"})
REFUSED_ALL = frozenset({"preferences", "analytics", "marketing"})

# Every known host, each once: ads.example/measure/, tags.example/ads/ and pixel.ads.example are covered.
UNDECIDED = (f"{KEYWORDS} *.ads.example *.cdn.example *.maps.example *.stats.example *.tags.example "
             f"ads.example cdn.example maps.example stats.example tags.example; report-uri {REPORT}")
ONLY_ALLOW_LIST = f"{KEYWORDS} *.cdn.example cdn.example; report-uri {REPORT}"
ONLY_PREFERENCES = f"{KEYWORDS} *.cdn.example *.maps.example cdn.example maps.example; report-uri {REPORT}"
# Analytics' own path on the refused ad host stays, as a path: the rest of ads.example does not load.
ONLY_ANALYTICS = (f"{KEYWORDS} *.cdn.example *.stats.example *.tags.example ads.example/measure/ "
                  f"cdn.example stats.example tags.example; report-uri {REPORT}")
PREFERENCES_AND_ANALYTICS = (f"{KEYWORDS} *.cdn.example *.maps.example *.stats.example *.tags.example "
                             f"ads.example/measure/ cdn.example maps.example stats.example tags.example; "
                             f"report-uri {REPORT}")
# Unknown third parties count as marketing: once marketing is granted, any host may load.
ANY_HOST = f"{KEYWORDS} *; report-uri {REPORT}"

POLICIES = [
    # Before a choice the policy is a refusal's: a tag a site script injects is refused and reported.
    ("undecided", REFUSED_ALL, False, ONLY_ALLOW_LIST),
    ("undecided, whatever the blocked set", NOTHING, False, ONLY_ALLOW_LIST),
    ("rejected all", REFUSED_ALL, True, ONLY_ALLOW_LIST),
    ("preferences only", frozenset({"analytics", "marketing"}), True, ONLY_PREFERENCES),
    ("analytics only", frozenset({"preferences", "marketing"}), True, ONLY_ANALYTICS),
    ("all but marketing", MARKETING, True, PREFERENCES_AND_ANALYTICS),
    ("accepted all", NOTHING, True, ANY_HOST),
    ("marketing without analytics", ANALYTICS, True, ANY_HOST),
    ("marketing only", frozenset({"preferences", "analytics"}), True, ANY_HOST),
]


@pytest.fixture
def tiny(tmp_path: Path) -> Catalogue:
    path = tmp_path / "vendors.toml"
    path.write_text(TINY, encoding="utf-8")
    return Catalogue.load(path)


def builder(catalogue: Catalogue, mode: str = "enforce", extra: tuple[str, ...] = (),
            report: str = REPORT, first_visit: str = "strict") -> CspBuilder:
    return CspBuilder(catalogue, CATEGORIES, extra, report, mode, first_visit)


@pytest.mark.parametrize(("case", "blocked", "decided", "expected"), POLICIES, ids=[p[0] for p in POLICIES])
def test_policy(tiny: Catalogue, case: str, blocked: frozenset[str], decided: bool, expected: str) -> None:
    assert builder(tiny).policy(blocked, decided) == expected


@pytest.mark.parametrize("blocked", [REFUSED_ALL, NOTHING])
def test_first_visit_vendors_admits_every_known_vendor_before_a_choice(tiny: Catalogue, blocked: frozenset[str]) -> None:
    vendors = builder(tiny, first_visit="vendors")
    assert vendors.policy(blocked, decided=False) == UNDECIDED
    assert vendors.policy(REFUSED_ALL, decided=True) == ONLY_ALLOW_LIST  # a decision is a decision either way


def test_decided_is_the_default(tiny: Catalogue) -> None:
    assert builder(tiny).policy(REFUSED_ALL) == ONLY_ALLOW_LIST


EXTRA = ("fonts.example", "static.example/lib/")
EXTRA_SOURCES = "fonts.example *.fonts.example static.example/lib/"
WITH_EXTRA = [
    (REFUSED_ALL, f"{KEYWORDS} {EXTRA_SOURCES} *.cdn.example cdn.example; report-uri {REPORT}"),
    (NOTHING, f"{KEYWORDS} {EXTRA_SOURCES} *; report-uri {REPORT}"),
]


@pytest.mark.parametrize(("blocked", "expected"), WITH_EXTRA)
def test_extra_hosts_come_before_the_consent_hosts(tiny: Catalogue, blocked: frozenset[str], expected: str) -> None:
    assert builder(tiny, extra=EXTRA).policy(blocked) == expected


def test_report_uri_is_the_one_given(tiny: Catalogue) -> None:
    policy = builder(tiny, report="https://reports.example/csp").policy(REFUSED_ALL)
    assert policy == f"{KEYWORDS} *.cdn.example cdn.example; report-uri https://reports.example/csp"


MODES = [
    ("enforce", ENFORCE, True),
    ("report-only", REPORT_ONLY, True),
    ("off", ENFORCE, False),
]


@pytest.mark.parametrize(("mode", "header", "enabled"), MODES)
def test_mode_sets_header_name_and_enabled(tiny: Catalogue, mode: str, header: str, enabled: bool) -> None:
    csp = builder(tiny, mode)
    assert (csp.header, csp.enabled) == (header, enabled)


def test_header_names() -> None:
    assert (ENFORCE, REPORT_ONLY) == ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def test_report_only_changes_the_header_name_not_the_policy(tiny: Catalogue) -> None:
    enforced, reported = builder(tiny, "enforce"), builder(tiny, "report-only")
    assert enforced.raw_header(ANALYTICS) == (b"content-security-policy", enforced.policy(ANALYTICS).encode())
    assert reported.raw_header(ANALYTICS) == (b"content-security-policy-report-only",
                                              enforced.policy(ANALYTICS).encode())


RAW = [
    ("enforce", REFUSED_ALL, True, b"content-security-policy", ONLY_ALLOW_LIST),
    ("enforce", REFUSED_ALL, False, b"content-security-policy", ONLY_ALLOW_LIST),
    ("report-only", NOTHING, True, b"content-security-policy-report-only", ANY_HOST),
]


@pytest.mark.parametrize(("mode", "blocked", "decided", "name", "value"), RAW)
def test_raw_header_is_the_str_form_as_bytes(tiny: Catalogue, mode: str, blocked: frozenset[str], decided: bool,
                                             name: bytes, value: str) -> None:
    csp = builder(tiny, mode)
    assert csp.raw_header(blocked, decided) == (name, value.encode("latin-1"))
    assert csp.raw_header(blocked, decided) == (csp.header.lower().encode(), csp.policy(blocked, decided).encode())


def test_headers_are_built_once_per_consent_class(tiny: Catalogue) -> None:
    csp = builder(tiny)
    assert csp.policy(ANALYTICS) is csp.policy(frozenset({"analytics"}))
    assert csp.raw_header(ANALYTICS) is csp.raw_header(frozenset({"analytics"}))
    assert csp.policy(ANALYTICS, True) != csp.policy(ANALYTICS, False)


# -- the shipped catalogue -----------------------------------------------------------------------------------

ALLOW_LISTED = {"ajax.googleapis.com", "cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com",
                "bootstrapcdn.com", "unpkg.com"}
NECESSARY_SOURCES = {"recaptcha.net", "*.recaptcha.net", "www.google.com/recaptcha/", "www.gstatic.com/recaptcha/",
                     "challenges.cloudflare.com", "*.challenges.cloudflare.com",
                     "smartcaptcha.yandexcloud.net", "*.smartcaptcha.yandexcloud.net",
                     "hcaptcha.com", "*.hcaptcha.com", "stripe.com", "*.stripe.com", "stripe.network", "*.stripe.network",
                     "cloudpayments.ru", "*.cloudpayments.ru", "yookassa.ru", "*.yookassa.ru",
                     # Tilda: a site built on it is made of its CDN's code and images.
                     "static.tildacdn.com", "*.static.tildacdn.com", "thb.tildacdn.com", "*.thb.tildacdn.com"}
# Google Tag Manager, Google Analytics 4 (its www.googletagmanager.com/gtag/ path is under *.googletagmanager.com),
# Yandex.Metrika with every collector its CSP guide lists, Hotjar with Contentsquare's hosts, and the rest of the
# analytics vendors. The list changes with the catalogue, on purpose: each addition is seen here.
METRIKA_TLDS = ("ru", "az", "by", "co.il", "com", "com.am", "com.ge", "com.tr", "ee", "fr", "kg", "kz", "lt", "lv",
                "md", "tj", "tm", "uz")
ANALYTICS_HOSTS = {"googletagmanager.com", "google-analytics.com", "analytics.google.com",
                   *(f"mc.yandex.{tld}" for tld in METRIKA_TLDS), "mc.webvisor.org", "mc.webvisor.com",
                   "hotjar.com", "hotjar.io", "contentsquare.net", "contentsquare.com", "clarity.ms",
                   "matomo.cloud", "innocraft.cloud", "mixpanel.com", "mxpnl.com", "amplitude.com", "segment.com",
                   "segment.io", "heapanalytics.com", "fullstory.com", "plausible.io", "mouseflow.com",
                   "luckyorange.com", "luckyorange.net", "crazyegg.com", "smartlook.com", "smartlook.cloud",
                   "posthog.com", "visualwebsiteoptimizer.com", "optimizely.com", "cloudflareinsights.com",
                   "yadro.ru", "liveinternet.ru", "piwik.pro", "simpleanalyticscdn.com", "usefathom.com",
                   "statcounter.com", "cloud.umami.is", "stat.tildacdn.com", "stat.tildaapi.com"}


def both(hosts: set[str]) -> set[str]:
    """A bare host's two sources, stated: ``host`` and ``*.host``."""
    return hosts | {f"*.{h}" for h in hosts}


SHIPPED_CASES = [
    ("rejected all", REFUSED_ALL, both(ALLOW_LISTED) | NECESSARY_SOURCES),
    ("analytics only", frozenset({"preferences", "marketing"}),
     both(ALLOW_LISTED) | NECESSARY_SOURCES | both(ANALYTICS_HOSTS)),
]


@pytest.mark.parametrize(("case", "blocked", "sources"), SHIPPED_CASES, ids=[c[0] for c in SHIPPED_CASES])
def test_shipped_catalogue_admits_exactly_the_granted_vendors(case: str, blocked: frozenset[str],
                                                              sources: set[str]) -> None:
    policy = builder(Catalogue.load(SHIPPED)).policy(blocked)
    assert policy.startswith(KEYWORDS + " ") and policy.endswith(f"; report-uri {REPORT}")
    listed = policy.removeprefix(KEYWORDS + " ").removesuffix(f"; report-uri {REPORT}").split()
    assert len(listed) == len(set(listed)) and set(listed) == sources


UNDECIDED_SHIPPED_HAS = {"*.googletagmanager.com", "*.facebook.net", "*.doubleclick.net", "*.youtube.com", "*.2gis.com",
                         "www.google.com/pagead/", "google.com/pagead/", "yastatic.net/s3/front-maps-static/"}
UNDECIDED_SHIPPED_LACKS = {"*", "www.googletagmanager.com/gtag/", "www.googletagmanager.com/gtag/js",
                           "connect.facebook.net", "ads.linkedin.com", "analytics.tiktok.com", "yastatic.net"}


def test_shipped_catalogue_undecided_admits_the_known_vendors_each_once() -> None:
    listed = builder(Catalogue.load(SHIPPED), first_visit="vendors").policy(REFUSED_ALL, decided=False)
    listed = listed.split("; ")[0].split()
    assert UNDECIDED_SHIPPED_HAS <= set(listed)
    assert not UNDECIDED_SHIPPED_LACKS & set(listed)


OPTIONAL = ("preferences", "analytics", "marketing")
CHOICES = [frozenset(c) for c in itertools.chain.from_iterable(itertools.combinations(OPTIONAL, n) for n in range(4))]


@pytest.mark.parametrize("refused", CHOICES, ids=lambda c: "refused:" + ",".join(sorted(c)) or "none")
def test_shipped_catalogue_headers_stay_small_for_every_choice(refused: frozenset[str]) -> None:
    """Proxies and servers cap header sizes (nginx buffers 4-8 KB by default): the policy must fit."""
    assert len(builder(Catalogue.load(SHIPPED)).policy(refused, decided=True)) < 4096


def test_shipped_catalogue_undecided_header_stays_small() -> None:
    assert len(builder(Catalogue.load(SHIPPED)).policy(frozenset(OPTIONAL), decided=False)) < 4096
