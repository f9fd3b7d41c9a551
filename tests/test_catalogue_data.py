"""The shipped catalogue's data: every vendor complete, hosts that never straddle two categories, a CSP that
admits each host exactly for the visitors who granted its category, and inline signatures that mark the
vendors' loaders but never the site's own calls on a vendor's global."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.csp import CspBuilder
from gateway.vendors import Catalogue, Vendor, split_url
from gateway.vocabulary import CATEGORIES

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "vendors.toml"
CATALOGUE = Catalogue.load(SHIPPED)
VENDORS = {v.id: v for v in CATALOGUE.vendors}
SITE = frozenset({"wgp.kz"})
OPTIONAL = ("preferences", "analytics", "marketing")
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")


def test_catalogue_has_at_least_eighty_vendors() -> None:
    assert len(CATALOGUE.vendors) >= 80


@pytest.mark.parametrize("vendor", CATALOGUE.vendors, ids=lambda v: v.id)
def test_vendor_is_complete(vendor: Vendor) -> None:
    assert vendor.hosts or vendor.paths
    assert vendor.category in CATEGORIES
    assert vendor.policy_url.startswith("https://") and " " not in vendor.policy_url
    en, ru, kk = vendor.purpose, vendor.purpose_for("ru"), vendor.purpose_for("kk")
    assert len({en, ru, kk}) == 3, "each language has its own wording"
    assert not CYRILLIC.intersection(en.lower())
    assert CYRILLIC.intersection(ru.lower()) and KAZAKH_LETTERS.intersection(kk.lower())
    assert all(0 < len(text) < 120 and "\n" not in text for text in (en, ru, kk))


@pytest.mark.parametrize("vendor", CATALOGUE.vendors, ids=lambda v: v.id)
def test_vendor_states_where_its_data_go(vendor: Vendor) -> None:
    """Law No. 94-V, art. 16: each recipient's country, and so whether the consent covers a cross-border
    transfer; "unknown" is allowed but must be said."""
    raw = SHIPPED.read_text(encoding="utf-8").split(f"[vendors.{vendor.id}]\n", 1)[1].split("\n[", 1)[0]
    assert "\ncountry = " in "\n" + raw, "every shipped vendor names its country explicitly"
    assert vendor.country == "unknown" or (len(vendor.country) == 2 and vendor.country.isupper())
    assert vendor.cross_border is (None if vendor.country == "unknown" else vendor.country != "KZ")
    for name, days in vendor.cookie_days:
        assert name in vendor.cookies and 0 <= days <= 800


@pytest.mark.parametrize(("vendor_id", "country"), [
    ("google-analytics", "US"), ("yandex-metrika", "RU"), ("meta-pixel", "US"), ("vk-pixel", "RU"),
    ("bitrix24", "RU"), ("2gis", "RU"), ("kaspi-button", "KZ"), ("hotjar", "IE"),
    ("vwo", "US"), ("fathom", "US"), ("tidio", "US"),
])
def test_known_countries(vendor_id: str, country: str) -> None:
    assert VENDORS[vendor_id].country == country


def test_google_analytics_cookie_lifetimes_are_googles() -> None:
    ga = VENDORS["google-analytics"]
    assert (ga.days_for("_ga"), ga.days_for("_ga_*"), ga.days_for("_gid")) == (730, 730, 1)


# -- which values are cited: `sources` names the vendor's own page for a country or a cookie lifetime ----------

RAW = SHIPPED.read_text(encoding="utf-8")
CATALOGUE_DOC = (SHIPPED.parents[1] / "docs" / "CATALOGUE.md").read_text(encoding="utf-8")


def _comment_above(vendor_id: str) -> str:
    """The comment lines directly above a vendor's table header (its "Hosts:", "Country:" notes)."""
    before = RAW.split(f"\n[vendors.{vendor_id}]\n", 1)[0].splitlines()
    block: list[str] = []
    for line in reversed(before):
        if not line.startswith("#"):
            break
        block.insert(0, line)
    return "\n".join(block)


UNKNOWN = [v for v in CATALOGUE.vendors if v.country == "unknown"]


@pytest.mark.parametrize("vendor", UNKNOWN, ids=lambda v: v.id)
def test_an_unknown_country_says_why(vendor: Vendor) -> None:
    """The banner then tells the visitor "unknown": a reviewer must see what was looked for and not found."""
    reason = _comment_above(vendor.id).partition("# Country: unknown")[2]
    assert len(reason) > 40, "a '# Country: unknown: <reason>' comment above the table"
    assert "country" not in dict(vendor.sources), "nothing to cite for a country nobody states"


def test_few_countries_are_unknown() -> None:
    """Five left after checking the vendors' pages (docs/CATALOGUE.md): a new unknown needs the same search."""
    assert sorted(v.id for v in UNKNOWN) == ["chatra", "kinescope", "telegram-widgets", "tilda", "tilda-stat"]


@pytest.mark.parametrize("vendor", CATALOGUE.vendors, ids=lambda v: v.id)
def test_lifetimes_are_whole_days_or_session(vendor: Vendor) -> None:
    """0 is the catalogue's "session or under a day"; anything else a positive number of days a browser keeps."""
    for name, days in vendor.cookie_days:
        assert type(days) is int and 0 <= days <= 800, (name, days)


CITED = [(v.id, key, url) for v in CATALOGUE.vendors for key, url in v.sources]


def test_some_values_are_cited() -> None:
    assert len({vid for vid, _, _ in CITED}) >= 8 and len(CITED) >= 15


@pytest.mark.parametrize(("vendor_id", "key", "url"), CITED)
def test_every_cited_value_names_its_vendors_page(vendor_id: str, key: str, url: str) -> None:
    vendor = VENDORS[vendor_id]
    assert url.startswith("https://") and " " not in url
    assert key == "country" and vendor.country != "unknown" or vendor.days_for(key) is not None
    assert url in CATALOGUE_DOC, "docs/CATALOGUE.md lists every source, so a reviewer can open them all"


def test_heap_v5_and_contentsquare_cookies_have_their_documented_lifetimes() -> None:
    heap, hotjar = VENDORS["heap"], VENDORS["hotjar"]
    assert CATALOGUE.vendor_for_cookie("_hp5_meta.4242") is heap
    assert (heap.days_for("_hp5_*"), heap.days_for("_hp2_*"), heap.days_for("_hp2_ses_props.*")) == (394, 394, 0)
    assert CATALOGUE.vendor_for_cookie("_cs_s") is hotjar
    assert (hotjar.days_for("_cs_id"), hotjar.days_for("_cs_s"), hotjar.days_for("_cs_c")) == (395, 0, 395)


def _load(tmp_path: Path, table: str, extra: dict[str, object] | None = None) -> Catalogue:
    path = tmp_path / "vendors.toml"
    path.write_text(f"[vendors.acme]\nname = \"Acme\"\ncategory = \"analytics\"\npurpose = \"Counts.\"\n"
                    f"policy_url = \"https://acme.example/privacy\"\nhosts = [\"acme.example\"]\n{table}",
                    encoding="utf-8")
    return Catalogue.load(path, extra)


BAD_SOURCES = [
    ("not a table", 'sources = "https://acme.example/"', "must be a table"),
    ("plain http", 'country = "US"\nsources = { country = "http://acme.example/dpa" }', "one https:// URL"),
    ("two URLs in one", 'country = "US"\nsources = { country = "https://a.example/ https://b.example/" }',
     "one https:// URL"),
    ("a lifetime the vendor does not state", 'cookies = ["a"]\nsources = { a = "https://acme.example/cookies" }',
     "neither 'country' nor a cookie in its cookie_days"),
]


@pytest.mark.parametrize(("case", "table", "message"), BAD_SOURCES, ids=[c[0] for c in BAD_SOURCES])
def test_a_bad_source_is_refused_naming_vendor_and_field(tmp_path: Path, case: str, table: str, message: str) -> None:
    with pytest.raises(ValueError, match="vendor 'acme': field 'sources'") as caught:
        _load(tmp_path, table)
    assert message in str(caught.value)


def test_a_site_that_changes_a_value_loses_its_shipped_source(tmp_path: Path) -> None:
    """A site moving its VWO account to the EU data centre: the shipped US citation no longer applies."""
    table = ('country = "US"\ncookies = ["a", "b"]\ncookie_days = { a = 1, b = 2 }\n'
             'sources = { country = "https://acme.example/dpa", a = "https://acme.example/a", b = "https://acme.example/b" }')
    site = {"vendors": {"acme": {"country": "BE", "cookie_days": {"a": 1, "b": 30}}}}
    vendor = _load(tmp_path, table, site).vendors[0]
    assert (vendor.country, vendor.cookie_days) == ("BE", (("a", 1), ("b", 30)))
    assert vendor.sources == (("a", "https://acme.example/a"),)


def test_hosts_are_listed_once_per_vendor() -> None:
    for vendor in CATALOGUE.vendors:
        assert len(set(vendor.hosts)) == len(vendor.hosts), vendor.id
        assert len(set(vendor.paths)) == len(vendor.paths), vendor.id


def _host_owners() -> list[tuple[str, Vendor]]:
    return [(host, vendor) for vendor in CATALOGUE.vendors for host in vendor.hosts]


def test_no_host_straddles_two_categories_unless_split_by_path() -> None:
    """A plain host admits all of its subdomains (suffix match, and ``*.host`` in the CSP). Under another
    category's plain host, a vendor would be loaded for visitors who refused it: such hosts must be path
    entries ("www.google.com/recaptcha/") instead. Exact duplicates are refused by Catalogue itself."""
    owners = _host_owners()
    clashes = [
        (inner, inner_vendor.id, outer, outer_vendor.id)
        for inner, inner_vendor in owners
        for outer, outer_vendor in owners
        if inner.endswith("." + outer) and inner_vendor.category != outer_vendor.category
    ]
    assert clashes == []


def test_path_entries_sit_on_hosts_no_other_category_owns_whole() -> None:
    """"yastatic.net/share2/" is only a split if no vendor of another category owns all of yastatic.net."""
    owners = _host_owners()
    for vendor in CATALOGUE.vendors:
        for entry in vendor.paths:
            host = entry.partition("/")[0]
            covering = [(h, v.id) for h, v in owners if (host == h or host.endswith("." + h)) and v is not vendor]
            assert all(VENDORS[vid].category == vendor.category or h != host for h, vid in covering), entry


# -- the CSP admits each host exactly for the visitors who granted its category -----------------------------

def _admits(policy: str, url: str) -> bool:
    """Whether a ``default-src`` source list admits ``url`` (host-source and path matching, CSP3 §6.7)."""
    parts = split_url(url)
    assert parts is not None
    host, path = parts
    path = path.partition("?")[0]
    for source in policy.split("; ")[0].split()[1:]:
        if source.startswith("'") or source.endswith(":"):
            continue
        if source == "*":
            return True
        source_host, slash, source_path = source.partition("/")
        if source_host.startswith("*."):
            host_ok = host.endswith(source_host[1:])
        else:
            host_ok = host == source_host
        if not host_ok:
            continue
        if not slash:
            return True
        wanted = "/" + source_path
        if (wanted.endswith("/") and path.startswith(wanted)) or path == wanted:
            return True
    return False


def _sample_urls(vendor: Vendor) -> list[str]:
    urls = [u for h in vendor.hosts for u in (f"https://{h}/x.js", f"https://cdn.{h}/x.js")]
    return urls + [f"https://{entry}x" if entry.endswith("/") else f"https://{entry}" for entry in vendor.paths]


# Every (vendor, url) pair, so a failure names the host.
HOST_CASES = [(v.id, url) for v in CATALOGUE.vendors for url in _sample_urls(v)]
CSP = CspBuilder(CATALOGUE, CATEGORIES, (), "/_consent/csp-report", "enforce")


@pytest.mark.parametrize(("vendor_id", "url"), HOST_CASES)
def test_every_host_is_admitted_for_visitors_who_granted_its_category(vendor_id: str, url: str) -> None:
    category = VENDORS[vendor_id].category
    assert CATALOGUE.category_for_url(url, SITE) == category
    granted_only_this = frozenset(OPTIONAL) - {category}
    assert _admits(CSP.policy(granted_only_this), url)


@pytest.mark.parametrize(("vendor_id", "url"), HOST_CASES)
def test_every_host_is_refused_for_visitors_who_did_not(vendor_id: str, url: str) -> None:
    """Refused: the visitor granted every other category but this one, and not marketing (which admits any
    host, unknown ones included). A path entry with a query (gtag.js?id=AW-) cannot be told apart in a CSP
    source from the analytics host it sits on: the HTML filter blocks that tag, the CSP cannot."""
    vendor = VENDORS[vendor_id]
    if vendor.category == "necessary":
        pytest.skip("necessary is always granted")
    if "?" in url:
        pytest.skip("a CSP source cannot carry the path entry's query")
    refused = frozenset({vendor.category, "marketing"})
    assert not _admits(CSP.policy(refused), url)


CONTENTSQUARE = [
    "https://t.contentsquare.net/uxa/0123456789abc.js",
    "https://c.contentsquare.net/pageview",
    "https://k-aeu1.contentsquare.net/v2/recording",
    "https://static.hotjar.com/c/hotjar-1625078.js?sv=6",
]


@pytest.mark.parametrize("url", CONTENTSQUARE)
def test_hotjars_contentsquare_hosts_count_as_analytics(url: str) -> None:
    assert CATALOGUE.vendor_for_url(url) is VENDORS["hotjar"]
    assert CATALOGUE.category_for_url(url, SITE) == "analytics"
    assert _admits(CSP.policy(frozenset({"preferences", "marketing"})), url)


# -- inline signatures: the vendors' loaders, as they publish them ---------------------------------------------

GTM = """(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-5P9HHLS');"""

GTAG_DYNAMIC = """var s = document.createElement('script'); s.async = true;
s.src = 'https://www.googletagmanager.com/gtag/js?id=G-WGP1234567'; document.head.appendChild(s);"""

UNIVERSAL_ANALYTICS = """(function(i,s,o,g,r,a,m){i['GoogleAnalyticsObject']=r;i[r]=i[r]||function(){
(i[r].q=i[r].q||[]).push(arguments)},i[r].l=1*new Date();a=s.createElement(o),
m=s.getElementsByTagName(o)[0];a.async=1;a.src=g;m.parentNode.insertBefore(a,m)
})(window,document,'script','https://www.google-analytics.com/analytics.js','ga');"""

METRIKA = """(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};
m[i].l=1*new Date();
for (var j = 0; j < document.scripts.length; j++) {if (document.scripts[j].src === r) { return; }}
k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})
(window, document, "script", "https://mc.yandex.ru/metrika/tag.js", "ym");
ym(95712345, "init", {clickmap:true, trackLinks:true, accurateTrackBounce:true, webvisor:true});"""

METRIKA_ON_JSDELIVR = METRIKA.replace("https://mc.yandex.ru/metrika/tag.js",
                                      "https://cdn.jsdelivr.net/npm/yandex-metrica-watch/tag.js")

META_PIXEL = """!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '2043440376090642');
fbq('track', 'PageView');"""

TIKTOK = """!function (w, d, t) {
  w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=["page","track","identify","instances","debug","on",
  "off","once","ready","alias","group","enableCookie","disableCookie"],ttq.setAndDefer=function(t,e){t[e]=function(){
  t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};for(var i=0;i<ttq.methods.length;i++)
  ttq.setAndDefer(ttq,ttq.methods[i]);ttq.load=function(e,n){var r="https://analytics.tiktok.com/i18n/pixel/events.js";
  ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=r;n=document.createElement("script");n.type="text/javascript",
  n.async=!0,n.src=r+"?sdkid="+e+"&lib="+t;e=document.getElementsByTagName("script")[0];e.parentNode.insertBefore(n,e)};
  ttq.load('CK1ABCDEFGHIJ');
  ttq.page();
}(window, document, 'ttq');"""

VK = """(function () {
    var t = document.createElement("script");
    t.type = 'text/javascript';
    t.async = true;
    t.src = 'https://vk.com/js/api/openapi.js?168';
    t.onload = function () {
        VK.Retargeting.Init('VK-RTRG-515571-5cyiW');
        VK.Retargeting.Hit()
    };
    document.head.appendChild(t)
})();"""

LINKEDIN_PARTNER = """_linkedin_partner_id = "5123456";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);"""

LINKEDIN_LOADER = """(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);"""

TOP_MAIL_RU = """var _tmr = window._tmr || (window._tmr = []);
_tmr.push({id: "3695469", type: "pageView", start: (new Date()).getTime()});
(function (d, w, id) {
  if (d.getElementById(id)) return;
  var ts = d.createElement("script"); ts.type = "text/javascript"; ts.async = true; ts.id = id;
  ts.src = "https://top-fwz1.mail.ru/js/code.js";
  var f = function () {var s = d.getElementsByTagName("script")[0]; s.parentNode.insertBefore(ts, s);};
  if (w.opera == "[object Opera]") { d.addEventListener("DOMContentLoaded", f, false); } else { f(); }
})(document, window, "topmailru-code");"""

HOTJAR = """(function(h,o,t,j,a,r){
    h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
    h._hjSettings={hjid:1625078,hjsv:6};
    a=o.getElementsByTagName('head')[0];
    r=o.createElement('script');r.async=1;
    r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
    a.appendChild(r);
})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');"""

CONTENTSQUARE_TAG = """window._uxa = window._uxa || [];
(function() {
  var mt = document.createElement("script"); mt.type = "text/javascript"; mt.async = true;
  mt.src = "//t.contentsquare.net/uxa/0123456789abc.js";
  document.getElementsByTagName("head")[0].appendChild(mt);
})();"""

CLARITY = """(function(c,l,a,r,i,t,y){
    c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
    t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
    y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
})(window, document, "clarity", "script", "ttu5iu9lg1");"""

JIVO = """(function(){ var widget_id = 'AbCd1234';var d=document;var w=window;function l(){
var s = document.createElement('script'); s.type = 'text/javascript'; s.async = true;
s.src = '//code.jivosite.com/script/widget/'+widget_id; var ss = document.getElementsByTagName('script')[0];
ss.parentNode.insertBefore(s, ss);}if(d.readyState=='complete'){l();}else{if(w.attachEvent){w.attachEvent('onload',l);}
else{w.addEventListener('load',l,false);}}})();"""

BITRIX24_FORM = """(function(w,d,u){var s=d.createElement('script');s.async=true;s.src=u+'?'+(Date.now()/180000|0);
var h=d.getElementsByTagName('script')[0];h.parentNode.insertBefore(s,h);})(window,document,
'https://cdn-ru.bitrix24.ru/b17476476/crm/form/loader_62.js');"""

BITRIX24_BUTTON = """(function(w,d,u){var s=d.createElement('script');s.async=true;s.src=u+'?'+(Date.now()/60000|0);
var h=d.getElementsByTagName('script')[0];h.parentNode.insertBefore(s,h);})(window,document,
'https://cdn-ru.bitrix24.kz/b34575790/crm/site_button/loader_2_a1b2c3.js');"""

CALLTOUCH = """(function(w,d,n,c){w.CalltouchDataObject=n;w[n]=function(){w[n]["callbacks"].push(arguments)};
if(!w[n]["callbacks"]){w[n]["callbacks"]=[]}w[n]["loaded"]=false;if(typeof c!=="object"){c=[c]}w[n]["counters"]=c;
for(var i=0;i<c.length;i+=1){p(c[i])}function p(cId){var a=d.getElementsByTagName("script")[0],s=d.createElement("script"),
i=function(){a.parentNode.insertBefore(s,a)};s.async=true;s.src="https://mod.calltouch.ru/init.js?id="+cId;
if(w.opera=="[object Opera]"){d.addEventListener("DOMContentLoaded",i,false)}else{i()}}})(window,document,"ct","yveh9kp7");"""

ROISTAT = """(function(w, d, s, h, id) {
    w.roistatProjectId = id; w.roistatHost = h;
    var p = d.location.protocol == "https:" ? "https://" : "http://";
    var u = /^.*roistat_visit=[^;]+(.*)?$/.test(d.cookie) ? "/dist/module.js" : "/api/site/1.0/"+id+"/init?referrer="+encodeURIComponent(d.location.href);
    var js = d.createElement(s); js.charset="UTF-8"; js.async = 1; js.src = p+h+u; var js2 = d.getElementsByTagName(s)[0]; js2.parentNode.insertBefore(js, js2);
})(window, document, 'script', 'cloud.roistat.com', '0a1b2c3d4e5f');"""

CARROT_QUEST = """!function(){function t(t,e){return function(){window.carrotquestasync.push(t,arguments)}}
if("undefined"==typeof carrotquest){var e=document.createElement("script");e.type="text/javascript",e.async=!0,
e.src="https://cdn.carrotquest.app/api.min.js",document.getElementsByTagName("head")[0].appendChild(e),
window.carrotquest={},window.carrotquestasync=[],carrotquest.settings={};for(var n=["connect","track","identify",
"auth","onReady","addCallback","removeCallback","trackMessageInteraction"],a=0;a<n.length;a++)carrotquest[n[a]]=t(n[a])}}(),
carrotquest.connect("12345-abcdef");"""

TAWK = """var Tawk_API=Tawk_API||{}, Tawk_LoadStart=new Date();
(function(){var s1=document.createElement("script"),s0=document.getElementsByTagName("script")[0];
s1.async=true;s1.src='https://embed.tawk.to/5f0a1b2c3d4e5f/default';s1.charset='UTF-8';
s1.setAttribute('crossorigin','*');s0.parentNode.insertBefore(s1,s0);})();"""

INTERCOM = """(function(){var w=window;var ic=w.Intercom;if(typeof ic==="function"){ic('reattach_activator');
ic('update',w.intercomSettings);}else{var d=document;var i=function(){i.c(arguments);};i.q=[];i.c=function(args){
i.q.push(args);};w.Intercom=i;var l=function(){var s=d.createElement('script');s.type='text/javascript';s.async=true;
s.src='https://widget.intercom.io/widget/' + 'abc123';var x=d.getElementsByTagName('script')[0];
x.parentNode.insertBefore(s,x);};if(document.readyState==='complete'){l();}else if(w.attachEvent){
w.attachEvent('onload',l);}else{w.addEventListener('load',l,false);}}})();"""

YANDEX_RTB = """(function(w, d, n, s, t) { s = d.createElement('script'); s.src = 'https://yandex.ru/ads/system/context.js';
s.async = true; d.head.appendChild(s); })(window, document);"""

LOADERS = [
    ("Google Tag Manager container", GTM, "google-tag-manager"),
    ("gtag.js inserted by script", GTAG_DYNAMIC, "google-analytics"),
    ("Universal Analytics", UNIVERSAL_ANALYTICS, "google-analytics"),
    ("Yandex.Metrika tag", METRIKA, "yandex-metrika"),
    ("Yandex.Metrika tag from jsDelivr", METRIKA_ON_JSDELIVR, "yandex-metrika"),
    ("Meta Pixel base code", META_PIXEL, "meta-pixel"),
    ("TikTok Pixel base code", TIKTOK, "tiktok-pixel"),
    ("VK retargeting pixel", VK, "vk-pixel"),
    ("LinkedIn Insight partner id", LINKEDIN_PARTNER, "linkedin-insight"),
    ("LinkedIn Insight loader", LINKEDIN_LOADER, "linkedin-insight"),
    ("Top.Mail.Ru / VK Ads counter", TOP_MAIL_RU, "top-mail-ru"),
    ("Hotjar", HOTJAR, "hotjar"),
    ("Hotjar on Contentsquare", CONTENTSQUARE_TAG, "hotjar"),
    ("Microsoft Clarity", CLARITY, "microsoft-clarity"),
    ("Jivo", JIVO, "jivo"),
    ("Bitrix24 CRM form", BITRIX24_FORM, "bitrix24"),
    ("Bitrix24 site button", BITRIX24_BUTTON, "bitrix24"),
    ("Calltouch", CALLTOUCH, "calltouch"),
    ("Roistat", ROISTAT, "roistat"),
    ("Carrot quest", CARROT_QUEST, "carrot-quest"),
    ("tawk.to", TAWK, "tawk"),
    ("Intercom", INTERCOM, "intercom"),
    ("Yandex Advertising Network", YANDEX_RTB, "yandex-direct"),
]


@pytest.mark.parametrize(("case", "text", "vendor_id"), LOADERS, ids=[c[0] for c in LOADERS])
def test_vendor_loader_is_recognised(case: str, text: str, vendor_id: str) -> None:
    assert [v.id for v in CATALOGUE.vendors_for_inline_bytes(text.encode())] == [vendor_id]


# -- ... and the site's own scripts, which call those vendors' globals and must stay as they are ----------------

JQUERY_FORM_HANDLER = """jQuery(function ($) {
  $('body').addClass('js-ready');
  $('.contact-form').on('submit', function () {
    if (window.ttq) ttq.track('SubmitForm');
    if (window._tmr) _tmr.push({type: 'reachGoal', id: 3695469, goal: 'lead'});
    if (window.ym) ym(95712345, 'reachGoal', 'form');
    if (window.fbq) fbq('track', 'Lead');
    if (window.gtag) gtag('event', 'generate_lead', {form: 'contacts'});
  });
});"""

GTAG_QUEUE = """window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());

gtag('config', 'G-WGP1234567');"""

VK_ADS_GOAL = """var _tmr = window._tmr || (window._tmr = []);
_tmr.push({type: 'reachGoal', id: 3695469, value: 1, goal: 'purchase', params: {product_id: '42'}});"""

CALLTOUCH_FORM_HANDLER = """document.addEventListener('click', function (e) {
  var t_el = e.target;
  if (t_el.closest('form [type="submit"]')) {
    var form = t_el.closest('form');
    var ct_data = {fio: form.querySelector('input#name').value, phoneNumber: form.querySelector('input#cellphone').value,
                   subject: 'Заявка с ' + location.hostname, requestUrl: location.href,
                   sessionId: window.ct && window.ct('calltracking_params', 'yveh9kp7').sessionId};
    var CT_URL = 'https://api.calltouch.ru/calls-service/RestAPI/requests/73357/register/';
    var request = new XMLHttpRequest(); request.open("POST", CT_URL, true); request.send(JSON.stringify(ct_data));
  }
});"""

SELF_HOSTED_MATOMO = """var _paq = window._paq = window._paq || [];
_paq.push(['trackPageView']); _paq.push(['enableLinkTracking']);
(function() { var u="//stats.wgp.kz/"; _paq.push(['setTrackerUrl', u+'matomo.php']); _paq.push(['setSiteId', '1']);
  var d=document, g=d.createElement('script'), s=d.getElementsByTagName('script')[0];
  g.async=true; g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s); })();"""

FIRST_PARTY = [
    ("jQuery ready handler calling ttq, _tmr, ym, fbq, gtag", JQUERY_FORM_HANDLER),
    ("ttq.track guarded", "if (window.ttq) ttq.track('SubmitForm')"),
    ("_tmr goal guarded", "if (window._tmr) _tmr.push({type: 'reachGoal', id: 123, goal: 'lead'})"),
    ("VK Ads goal with its own _tmr line", VK_ADS_GOAL),
    ("Metrika goal", "ym(12345, 'reachGoal', 'form')"),
    ("Metrika goal, old counter API", "yaCounter95712345.reachGoal('order');"),
    ("gtag event", "gtag('event', 'generate_lead')"),
    ("gtag page view in a single-page app", "gtag('config', 'G-WGP1234567', {page_path: location.pathname});"),
    ("gtag's inline queue (gtag.js is its own tag)", GTAG_QUEUE),
    ("Meta Pixel event", "fbq('track', 'Lead')"),
    ("dataLayer event", "window.dataLayer = window.dataLayer || []; dataLayer.push({event: 'form_submit'})"),
    ("VK retargeting event", "VK.Retargeting.Event('lead'); VK.Goal('lead');"),
    ("Bitrix's own BX.ready", "BX.ready(function () { BX.bind(BX('callback'), 'click', function () { "
                              "BX.addClass(BX('callback'), 'is-open'); }); });"),
    ("Jivo callbacks", "function jivo_onLoadCallback() { jivo_api.setContactInfo({name: 'Гость'}); }"),
    ("tawk.to callbacks", "Tawk_API.onLoad = function () { Tawk_API.setAttributes({page: location.pathname}); };"),
    ("Intercom update", "window.Intercom('update', {last_request_at: Math.floor(Date.now() / 1000)});"),
    ("Criteo product event", "window.criteo_q = window.criteo_q || []; "
                             "window.criteo_q.push({event: 'viewItem', item: '123'});"),
    ("YouTube player API use", "function onYouTubeIframeAPIReady() { new YT.Player('player', {videoId: 'dQw4w9WgXcQ'}); }"),
    ("Yandex map init", "ymaps.ready(function () { new ymaps.Map('map', {center: [47.11, 51.92], zoom: 12}); });"),
    ("2GIS map init", "DG.then(function () { DG.map('map', {center: [43.24, 76.94], zoom: 13}); });"),
    ("Calltouch lead sent by the site's form handler", CALLTOUCH_FORM_HANDLER),
    ("Roistat goal", "window.roistatGoal && roistatGoal.reach({leadName: 'Заявка', phone: '+77012345678'});"),
    ("Carrot quest calls", "carrotquest.track('Lead'); carrotquest.identify({'$phone': '+77012345678'});"),
    ("HubSpot form after its embed script", "hbspt.forms.create({region: 'na1', portalId: '1', formId: 'x'});"),
    ("Yandex ad block render queued", "window.yaContextCb.push(() => { Ya.Context.AdvManager.render({"
                                      "blockId: 'R-A-1-1', renderTo: 'yandex_rtb'}) })"),
    ("self-hosted, first-party Matomo", SELF_HOSTED_MATOMO),
    ("Marquiz button", "Marquiz.showModal('6123abc');"),
    ("Crisp call", "$crisp.push(['do', 'chat:open']);"),
    ("X event", "twq('event', 'tw-o1abc-o1def', {});"),
    ("look-alike names", "function enzym(x) { return rhythm(x); } var pintrk_ready = false;"),
]


@pytest.mark.parametrize(("case", "text"), FIRST_PARTY, ids=[c[0] for c in FIRST_PARTY])
def test_first_party_script_matches_no_vendor(case: str, text: str) -> None:
    assert CATALOGUE.vendors_for_inline_bytes(text.encode()) == ()
