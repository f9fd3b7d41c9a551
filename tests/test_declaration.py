"""GET /_consent/declaration: the cookie declaration in three languages, with the facts Law No. 94-V asks a
consent to state, from the catalogue and the latest stored scan; well-formed, escaped HTML; the fragment."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from gateway.scanfile import OWN_VENDOR, SCAN_FILE, parse_scan, read_scan, write_scan
from gateway.settings import Settings

from .conftest import SITE, ClientFactory

PREFIX = "/_consent"
VOID = frozenset({"meta", "input", "br", "img", "link", "hr"})
LANGS = {"ru": ("Декларация cookie", "Оператор", "Трансграничная передача", "да", "США", "Россия"),
         "kk": ("Cookie декларациясы", "Оператор", "Трансшекаралық беру", "иә", "АҚШ", "Ресей"),
         "en": ("Cookie declaration", "Operator", "Cross-border transfer", "yes", "United States", "Russia")}
BIN = "123456789012"
SCAN = {"scanned_at": "2026-11-30T08:15:00Z", "vendors": [
    {"vendor": "google-analytics", "category": "analytics",
     "cookies": [{"name": "_ga", "expires_days": 400}, {"name": "_ga_ABC123", "expires_days": 400}]},
    {"vendor": "yandex-metrika", "category": "analytics", "cookies": [{"name": "_ym_uid", "expires_days": 365},
                                                                      {"name": "_ym_visorc", "expires_days": None}]},
    {"vendor": "<b>Shady</b> & co", "category": "marketing", "cookies": [{"name": "<x>", "expires_days": 3}]},
]}


class Tree(HTMLParser):
    """Checks that every element is closed in order; collects the tags, text and the attributes seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html.removeprefix("<!DOCTYPE html>"))
    tree.close()
    assert tree.stack == [], f"unclosed: {tree.stack}"
    return tree


def rows(tree: Tree) -> str:
    return " ".join(" ".join(tree.text).split())


@pytest.fixture
def with_bin(settings: Settings) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, operator_bin=BIN)


@pytest.mark.parametrize("lang", list(LANGS))
async def test_page_in_each_language_lists_vendors_by_category_with_the_legal_facts(
        make_client: ClientFactory, with_bin: Settings, lang: str) -> None:
    client = await make_client(with_bin)
    r = await client.get(f"{PREFIX}/declaration?lang={lang}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-language"] == lang and r.headers["cache-control"] == "no-store"
    tree = parse(r.text)
    text = rows(tree)
    title, operator, border, yes, usa, russia = LANGS[lang]
    assert tree.tags[0] == ("html", {"lang": lang})
    assert title in text and operator in text and border in text
    assert "WGP LLP" in text and BIN in text and "180" in text and "94-V" in text
    for name in ("Google Analytics 4", "Yandex.Metrika", "Meta Pixel (Facebook)", "Kaspi button"):
        assert name in text
    assert f"{usa} (US)" in text and f"{russia} (RU)" in text
    assert f" {yes} " in f" {text} "
    # The catalogue's lifetimes, and the vendors' policy links
    assert "_ga" in text and ("730" in text)
    hrefs = {a.get("href") for t, a in tree.tags if t == "a"}
    assert {"https://policies.google.com/privacy", "https://yandex.ru/legal/confidential/"} <= hrefs
    # Accessible tables: a caption and scoped headers; headings per category
    tables = [t for t, _ in tree.tags if t == "table"]
    assert len(tables) >= 4 and tables.count("table") == [t for t, _ in tree.tags].count("caption")
    assert {a.get("scope") for t, a in tree.tags if t == "th"} == {"col", "row"}
    assert [t for t, a in tree.tags if t == "h1"] == ["h1"]
    assert any(t == "a" and "data-consent-open" in a for t, a in tree.tags)
    scripts = [str(a["src"]) for t, a in tree.tags if t == "script" and a.get("src")]
    assert len(scripts) == 1 and scripts[0].startswith(f"{PREFIX}/banner.js?v=")
    assert any(t == "form" and a.get("action") == f"{PREFIX}/state" for t, a in tree.tags)


async def test_language_is_negotiated_like_config_json(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{PREFIX}/declaration", headers={"accept-language": "kk-KZ, ru;q=0.8"})
    assert r.headers["content-language"] == "kk"
    assert (await client.get(f"{PREFIX}/declaration")).headers["content-language"] == "ru"
    assert (await client.get(f"{PREFIX}/declaration?lang=kz")).headers["content-language"] == "kk"


async def test_without_a_bin_the_page_says_it_is_not_stated(client: httpx.AsyncClient) -> None:
    text = rows(parse((await client.get(f"{PREFIX}/declaration?lang=en")).text))
    assert "BIN not stated" in text and "has not been scanned yet" in text


async def test_fragment_is_a_section_without_a_document(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{PREFIX}/declaration?fragment=1&lang=en")
    assert r.status_code == 200
    assert "<html" not in r.text and "<script" not in r.text and r.text.startswith("<section")
    tree = parse(r.text)
    assert tree.tags[0][0] == "section" and tree.tags[0][1]["lang"] == "en"
    assert [t for t, _ in tree.tags if t == "h1"] == [] and "h2" in [t for t, _ in tree.tags]


async def test_stored_scan_gives_the_date_the_lifetimes_it_measured_and_is_escaped(
        make_client: ClientFactory, settings: Settings) -> None:
    write_scan(settings.data_dir, SCAN)
    client = await make_client(settings)
    r = await client.get(f"{PREFIX}/declaration?lang=en")
    assert "<b>Shady</b>" not in r.text and "&lt;b&gt;Shady&lt;/b&gt; &amp; co" in r.text
    assert "<x>" not in r.text and "&lt;x&gt;" in r.text
    tree = parse(r.text)
    text = rows(tree)
    assert "Last scan of the site: 2026-11-30" in text
    assert "_ga_ABC123 : 400 days" in text and "_ym_visorc : session or under a day" in text
    # What the scan did not see is still disclosed, folded away as what the consent would cover.
    assert any(t == "details" for t, _ in tree.tags) and "Meta Pixel (Facebook)" in text


@pytest.mark.parametrize(("lang", "name", "purpose"), [
    ("ru", "Этот сайт (шлюз согласий)", "Хранит ваш выбор cookie."),
    ("kk", "Осы сайт (келісім шлюзі)", "Cookie бойынша таңдауыңызды сақтайды."),
    ("en", "This site (consent gateway)", "Keeps your cookie choice."),
])
async def test_the_scanned_consent_cookie_is_the_site_own_not_a_recipient(
        make_client: ClientFactory, settings: Settings, lang: str, name: str, purpose: str) -> None:
    own = {"vendor": OWN_VENDOR, "category": "necessary", "cookies": [{"name": "wgp_consent", "expires_days": 180}]}
    write_scan(settings.data_dir, {**SCAN, "vendors": [*SCAN["vendors"], own]})
    client = await make_client(settings)
    text = rows(parse((await client.get(f"{PREFIX}/declaration?lang={lang}")).text))
    assert f"{name} {purpose} — — wgp_consent : " in text
    assert OWN_VENDOR not in text  # named in the visitor's language, and not listed among the recipients


async def test_site_data_is_escaped(make_client: ClientFactory, settings: Settings) -> None:
    evil = {"name": "Chat <script>alert(1)</script>", "category": "preferences", "purpose": "\"><img src=x>",
            "policy_url": "https://x.example/?a=1&b=\"2\"", "hosts": ["chat.example"], "country": "KZ"}
    client = await make_client(settings, controller="WGP <LLP>", vendor_overrides={"vendors": {"chat": evil}})
    r = await client.get(f"{PREFIX}/declaration?lang=en")
    assert "<script>alert" not in r.text and "<img src=x>" not in r.text and "WGP <LLP>" not in r.text
    assert 'href="https://x.example/?a=1&amp;b=&quot;2&quot;"' in r.text
    text = rows(parse(r.text))
    assert "Chat <script>alert(1)</script>" in text and "Kazakhstan (KZ)" in text


async def test_current_choice_is_shown(client: httpx.AsyncClient) -> None:
    put = await client.put(f"{PREFIX}/state", json={"categories": {"analytics": True}},
                           headers={"origin": SITE})
    assert put.status_code == 200
    text = rows(parse((await client.get(f"{PREFIX}/declaration?lang=en")).text))
    assert "Analytics: allowed" in text and "Marketing: refused" in text


async def test_damaged_scan_file_falls_back_to_the_catalogue(make_client: ClientFactory, settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / SCAN_FILE).write_text("{not json", encoding="utf-8")
    client = await make_client(settings)
    r = await client.get(f"{PREFIX}/declaration?lang=en")
    assert r.status_code == 200 and "has not been scanned yet" in r.text


async def test_receipt_states_operator_bin_term_and_recipients_with_countries(
        make_client: ClientFactory, with_bin: Settings) -> None:
    client = await make_client(with_bin)
    await client.put(f"{PREFIX}/state", json={"action": "accept_all"}, headers={"origin": SITE})
    receipt = (await client.get(f"{PREFIX}/receipt")).json()
    assert receipt["operator"] == {"name": with_bin.controller, "bin": BIN} and receipt["term_days"] == 180
    analytics = {v["name"]: v for v in receipt["recipients"]["analytics"]}
    assert analytics["Yandex.Metrika"] == {"name": "Yandex.Metrika", "country": "RU", "cross_border": True}
    assert receipt["declaration_url"] == f"{PREFIX}/declaration"


async def test_second_layer_data_carry_countries_and_the_declaration_link(client: httpx.AsyncClient) -> None:
    doc = (await client.get(f"{PREFIX}/vendors.json?lang=kk")).json()
    assert doc["declaration_url"] == f"{PREFIX}/declaration?lang=kk"
    for lang, title in (("ru", "Декларация cookie"), ("kk", "Cookie декларациясы"), ("en", "Cookie declaration")):
        # The link's text, in the visitor's language; config.json (the first layer) carries nothing of it.
        assert (await client.get(f"{PREFIX}/vendors.json?lang={lang}")).json()["declaration_link"] == title
        assert "declaration" not in (await client.get(f"{PREFIX}/config.json?lang={lang}")).text
    kaspi = next(v for v in doc["categories"]["preferences"] if v["name"] == "Kaspi button")
    assert (kaspi["country"], kaspi["cross_border"]) == ("KZ", False)
    # banner.js shows each vendor's name and purpose: the purpose says where the data go, in the visitor's language
    assert kaspi["purpose"].endswith("Деректер жіберіледі: Қазақстан (KZ); трансшекаралық беру: жоқ.")
    yandex = next(v for v in doc["categories"]["analytics"] if v["name"] == "Yandex.Metrika")
    assert yandex["purpose"].endswith("Ресей (RU); трансшекаралық беру: иә.")


def test_scan_file_round_trip_and_errors(tmp_path: Path) -> None:
    assert read_scan(tmp_path) is None
    write_scan(tmp_path, SCAN)
    summary = read_scan(tmp_path)
    assert summary is not None and summary.scanned_at.isoformat() == "2026-11-30T08:15:00+00:00"
    assert summary.vendors[1].cookies[1].expires_days is None
    assert json.loads((tmp_path / SCAN_FILE).read_text(encoding="utf-8")) == SCAN
    for bad, message in [({"scanned_at": "yesterday"}, "scanned_at"),
                         ({"scanned_at": "2026-01-01", "vendors": {}}, "vendors: must be a list"),
                         ({"scanned_at": "2026-01-01", "vendors": [{"vendor": "x", "category": "ads"}]}, "category"),
                         ({"scanned_at": "2026-01-01", "vendors": [
                             {"vendor": "x", "category": "analytics", "cookies": [{"name": "a",
                                                                                   "expires_days": -1}]}]},
                          r"cookies\[0\]")]:
        with pytest.raises(ValueError, match=message):
            parse_scan(bad)
