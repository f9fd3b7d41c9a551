"""The dashboard in ru, kk and en: ?lang=, then Accept-Language (q-values), then the site's default language; a
switch of links; every word from the language's [dashboard] table; the CSV and the API stay English."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.admin import admin_routes
from gateway.locales import DASHBOARD_KEYS, SCAN_REPORT_KEYS, UI_LANGUAGES, ui_texts
from gateway.metrics import Metrics
from gateway.resources import CONFIG_DIR
from gateway.store.memory import MemoryStore
from tests.analytics_data import AUTH, END, START, TIMEZONE, TOKEN, client_for, load, scripted_data

LOANWORDS = {"cookie"}  # the same word in Russian and Kazakh
LOCALE = CONFIG_DIR / "locales"
TEXTS = ui_texts("dashboard", lambda lang: LOCALE / f"{lang}.toml")
RANGE = {"from": START.isoformat(), "to": END.isoformat()}
# Words an analyst sees on every page, and the English ones that must not be left on a Russian or Kazakh page.
SHOWN = ("title", "headline", "shown", "decisions", "opt_in_title", "mix_title", "breakdowns", "hosts_title",
         "device", "browser", "csv", "show", "analytics", "marketing", "preferences", "accept_all", "table", "desktop")
ENGLISH_LEFTOVERS = ("Consent metrics", "Decisions", "Headline", "Breakdowns", "Download CSV", "Last 7 days",
                     "Opt-in", "Marketing", "Accept all", "Desktop", "Table")


def app_for(store: Any, default_language: str = "ru") -> Starlette:
    routes = admin_routes(token=TOKEN, store=store, metrics=Metrics(), timezone=TIMEZONE,
                          default_language=default_language)
    return Starlette(routes=[Mount("/_consent", routes=routes)])


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    s = MemoryStore(TIMEZONE)
    await s.open()
    await load(s, scripted_data())
    yield s
    await s.close()


async def page(store: Any, params: dict[str, str] | None = None, accept: str | None = None,
               default_language: str = "ru") -> httpx.Response:
    headers = dict(AUTH) | ({"Accept-Language": accept} if accept else {})
    async with client_for(app_for(store, default_language)) as c:
        return await c.get("/_consent/admin/", params={**RANGE, **(params or {})}, headers=headers)


def lang_of(resp: httpx.Response) -> str:
    found = re.search(r'<html lang="(\w+)">', resp.text)
    assert found, resp.text[:200]
    assert resp.headers["content-language"] == found.group(1)
    return found.group(1)


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_every_key_in_every_language_and_none_left_in_english() -> None:
    for table, keys in (("dashboard", DASHBOARD_KEYS), ("scan_report", SCAN_REPORT_KEYS)):
        texts = ui_texts(table, lambda lang: LOCALE / f"{lang}.toml")
        for lang in UI_LANGUAGES:
            data = tomllib.loads((LOCALE / f"{lang}.toml").read_text(encoding="utf-8"))
            assert set(data[table]) == set(keys), (lang, table)  # no key missing, none unknown
            assert all(texts[lang][k].strip() for k in keys)
        for lang in ("ru", "kk"):
            assert re.search("[а-яА-ЯәіңғүұқөһӘІҢҒҮҰҚӨҺ]", texts[lang]["title"])
            same = [k for k in keys if texts[lang][k] == texts["en"][k] and texts[lang][k] not in LOANWORDS
                    and re.search("[a-z]{4}", texts["en"][k])]
            assert same == [], (lang, same)  # no English sentence copied over untranslated


def test_a_locale_file_missing_a_key_is_refused_naming_it(tmp_path: Path) -> None:
    text = (LOCALE / "kk.toml").read_text(encoding="utf-8").replace('\nno_hosts = ', '\n# no_hosts = ')
    (tmp_path / "kk.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"kk.toml: \[dashboard\] no_hosts: missing"):
        ui_texts("dashboard", lambda lang: tmp_path / f"{lang}.toml", ["kk"])


@pytest.mark.parametrize("lang", UI_LANGUAGES)
async def test_each_language_page_has_its_own_strings(store: Any, lang: str) -> None:
    resp = await page(store, {"lang": lang})
    assert resp.status_code == 200 and lang_of(resp) == lang
    t = TEXTS[lang]
    shown = text_of(resp.text)
    for key in SHOWN:
        assert t[key] in shown, key
    assert t["last_days"].replace("{n}", "7") in shown
    assert t["opt_in"].replace("{category}", t["analytics"]) in shown
    assert f"<title id=\"chart-opt-in-t\">{t['opt_in_chart']}</title>" in resp.text  # the chart's own title, for screen readers
    assert f"{START} {t['accept_all']}: " in resp.text  # the tooltip of a data point
    if lang != "en":
        assert [w for w in ENGLISH_LEFTOVERS if w in shown] == []
    # The data keep their own names, whatever the language: what scripts and tests read does not move.
    assert 'data-series="accept_all"' in resp.text and 'data-key="desktop"' in resp.text


@pytest.mark.parametrize(("accept", "lang"), [
    ("kk-KZ,kk;q=0.9,ru;q=0.8,en;q=0.7", "kk"),
    ("en;q=0.3, kk;q=0.5, ru;q=0.9", "ru"),  # q-values, not the order, decide
    ("de-DE,de;q=0.9,en;q=0.5", "en"),  # a language we lack is passed over
    ("en-US,en;q=0.9", "en"),
    ("kz", "kk"),  # the country code people type for Kazakh
    ("ru;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
])
async def test_accept_language_chooses_when_no_lang_is_asked(store: Any, accept: str, lang: str) -> None:
    assert lang_of(await page(store, accept=accept)) == lang


async def test_lang_parameter_wins_over_accept_language(store: Any) -> None:
    assert lang_of(await page(store, {"lang": "kk"}, accept="en-US,en;q=0.9")) == "kk"


@pytest.mark.parametrize("default", ["ru", "kk", "en"])
async def test_without_either_the_site_default_language(store: Any, default: str) -> None:
    assert lang_of(await page(store, default_language=default)) == default


async def test_an_unknown_language_falls_back(store: Any) -> None:
    assert lang_of(await page(store, {"lang": "de"})) == "ru"  # neither asked nor accepted: the default
    assert lang_of(await page(store, {"lang": "xx"}, accept="kk")) == "kk"  # then the browser's choice
    resp = await page(store, {"lang": "<script>"})
    assert resp.status_code == 200 and lang_of(resp) == "ru" and "<script>" not in resp.text


async def test_the_switch_links_every_language_keeping_the_range(store: Any) -> None:
    resp = await page(store, {"lang": "kk"})
    nav = re.search(r'<nav class="langs" aria-label="([^"]+)">(.*?)</nav>', resp.text)
    assert nav and nav.group(1) == TEXTS["kk"]["languages"]
    links = re.findall(r'<a href="([^"]+)" hreflang="(\w+)" lang="\w+"( aria-current=true)?>([^<]+)</a>',
                       nav.group(2))
    assert [(unescape(href), code, bool(current), name) for href, code, current, name in links] == [
        (f"?from={START}&to={END}&lang=ru", "ru", False, "Русский"),
        (f"?from={START}&to={END}&lang=kk", "kk", True, "Қазақша"),
        (f"?from={START}&to={END}&lang=en", "en", False, "English")]
    # The range form and the quick ranges keep the language the analyst chose.
    assert '<input type="hidden" name="lang" value="kk">' in resp.text
    assert re.search(r'href="\?from=[\d-]+&amp;to=[\d-]+&amp;lang=kk"', resp.text)


@pytest.mark.parametrize(("params", "words"), [
    ({"from": "yesterday"}, ("«yesterday» — не дата (поле «С»)", "Показан период по умолчанию")),
    ({"from": "2026-11-06", "to": "2026-11-02"}, ("Начало периода (2026-11-06) позже его конца (2026-11-02)",)),
    ({"from": "2020-01-01", "to": "2026-11-02"}, ("Период длиннее 3 лет: не больше 1098 дней",)),
])
async def test_a_rejected_range_is_explained_in_the_page_language(store: Any, params: dict[str, str],
                                                                 words: tuple[str, ...]) -> None:
    resp = await page(store, {**params, "lang": "ru"})
    assert resp.status_code == 422
    alert = re.search(r'<p class="error" role="alert">(.*?)</p>', resp.text)
    assert alert, resp.text[:500]
    for w in words:
        assert w in unescape(alert.group(1))
    kk = await page(store, {"from": "yesterday", "lang": "kk"})
    assert "«yesterday» күн емес («Басы» өрісі)" in unescape(kk.text)


async def test_csv_and_api_stay_machine_readable_in_english(store: Any) -> None:
    async with client_for(app_for(store, "kk")) as c:
        resp = await c.get("/_consent/admin/api/summary.csv", params={**RANGE, "lang": "ru"},
                           headers={**AUTH, "Accept-Language": "ru"})
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert rows[0] == ["section", "key", "metric", "value"]
        assert ("rates", "analytics", "opt_in_rate") in {tuple(r[:3]) for r in rows}
        bad = await c.get("/_consent/admin/api/summary", params={"from": "yesterday", "lang": "ru"},
                          headers={**AUTH, "Accept-Language": "ru"})
        assert bad.json()["message"] == "from: 'yesterday' is not a date; use YYYY-MM-DD"


@pytest.mark.parametrize("default", ["en", "kk"])
async def test_the_gateway_serves_the_dashboard_in_the_site_s_default_language(make_client: Any, settings: Any,
                                                                             default: str) -> None:
    """What create_app builds follows `default_language`, not the dashboard's own fallback."""
    from tests.conftest import ADMIN_TOKEN

    client = await make_client(settings, default_language=default)
    resp = await client.get("/_consent/admin/", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert resp.status_code == 200
    assert lang_of(resp) == default


@pytest.mark.parametrize(("lang", "word"), [("ru", "токен"), ("kk", "токен"), ("en", "token")])
async def test_the_sign_in_page_speaks_the_analyst_s_language(store: Any, lang: str, word: str) -> None:
    """An analyst who opens the dashboard without the token (or cancels the browser's prompt) reads why in the
    language the dashboard would have spoken; the API and the metrics keep their English JSON and text."""
    async with client_for(app_for(store)) as c:
        resp = await c.get("/_consent/admin/", headers={"Accept-Language": f"{lang};q=0.9"})
        api = await c.get("/_consent/admin/api/summary", headers={"Accept-Language": f"{lang};q=0.9"})
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Basic")
    assert lang_of(resp) == lang
    shown = text_of(resp.text)
    assert TEXTS[lang]["sign_in_title"] in shown and word in shown.lower()
    if lang != "en":
        assert "required" not in shown and "Unauthorized" not in shown
    assert api.status_code == 401 and api.json()["error"] == "unauthorized"


async def test_a_disabled_dashboard_says_how_to_enable_it_in_the_analyst_s_language(store: Any) -> None:
    routes = admin_routes(token=None, store=store, metrics=Metrics(), timezone=TIMEZONE)
    async with client_for(Starlette(routes=[Mount("/_consent", routes=routes)])) as c:
        resp = await c.get("/_consent/admin/", headers={"Accept-Language": "ru"})
    assert resp.status_code == 503 and lang_of(resp) == "ru"
    assert TEXTS["ru"]["disabled_title"] in text_of(resp.text) and "GATEWAY_ADMIN_TOKEN" in resp.text


async def test_too_many_wrong_tokens_are_explained_with_the_wait(store: Any) -> None:
    routes = admin_routes(token=TOKEN, store=store, metrics=Metrics(), timezone=TIMEZONE, failures_per_minute=1)
    async with client_for(Starlette(routes=[Mount("/_consent", routes=routes)])) as c:
        wrong = {"Authorization": "Bearer " + "w" * 24, "Accept-Language": "kk"}
        await c.get("/_consent/admin/", headers=wrong)
        resp = await c.get("/_consent/admin/", headers=wrong)
    assert resp.status_code == 429 and lang_of(resp) == "kk"
    wait = resp.headers["retry-after"]
    assert TEXTS["kk"]["too_many_title"] in text_of(resp.text) and wait in text_of(resp.text)
