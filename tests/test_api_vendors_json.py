"""GET /_consent/vendors.json: each category's vendors with purposes in the banner's language."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx

from gateway.locales import BANNER_KEYS
from gateway.settings import Settings

from .conftest import SITE, ClientFactory

LOCALES = Path(__file__).resolve().parents[1] / "config" / "locales"
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
KAZAKH = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
CHAT = {"name": "Our chat", "category": "preferences", "purpose": "Chat with our engineers.",
        "policy_url": "https://wgp.kz/privacy", "hosts": ["chat.wgp-partner.example"]}


def vendor(doc: dict[str, Any], name: str) -> dict[str, str]:
    return next(v for vs in doc["categories"].values() for v in vs if v["name"] == name)


async def test_purposes_in_each_language_and_the_right_script(client: httpx.AsyncClient) -> None:
    ru = await client.get("/_consent/vendors.json?lang=ru")
    kk = await client.get("/_consent/vendors.json?lang=kz")
    en = await client.get("/_consent/vendors.json", headers={"accept-language": "en-GB, ru;q=0.5"})
    assert (ru.json()["lang"], kk.json()["lang"], en.json()["lang"]) == ("ru", "kk", "en")
    assert ru.headers["content-language"] == "ru" and kk.headers["content-language"] == "kk"
    for r in (ru, kk, en):
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.headers["cache-control"] == "public, max-age=300" and "Accept-Language" in r.headers["vary"]
        assert list(r.json()["categories"]) == ["necessary", "preferences", "analytics", "marketing"]
    ga_ru, ga_kk, ga_en = (vendor(r.json(), "Google Analytics 4") for r in (ru, kk, en))
    assert ga_ru["policy_url"] == ga_kk["policy_url"] == ga_en["policy_url"] == "https://policies.google.com/privacy"
    assert len({ga_ru["purpose"], ga_kk["purpose"], ga_en["purpose"]}) == 3
    assert ga_en["purpose"] == ("Counts visits and measures how pages are used. "
                                "Data go to: United States (US); cross-border transfer: yes.")
    assert (ga_en["country"], ga_en["cross_border"]) == ("US", True)
    for vs in ru.json()["categories"].values():
        assert all(CYRILLIC.search(v["purpose"]) for v in vs)
    for vs in kk.json()["categories"].values():
        assert all(KAZAKH.search(v["purpose"]) for v in vs)
    for vs in en.json()["categories"].values():
        assert not any(CYRILLIC.search(v["purpose"]) for v in vs)
    assert {v["name"] for v in ru.json()["categories"]["marketing"]} >= {"Meta Pixel (Facebook)", "YouTube"}


async def test_site_vendor_without_translation_falls_back_to_english(
        make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, vendor_overrides={"vendors": {"our-chat": CHAT}})
    for lang in ("ru", "kk", "en"):
        doc = (await client.get(f"/_consent/vendors.json?lang={lang}")).json()
        chat = vendor(doc, "Our chat")
        assert chat["purpose"].startswith("Chat with our engineers. ")
        assert {k: v for k, v in chat.items() if k != "purpose"} == {
            "name": "Our chat", "policy_url": "https://wgp.kz/privacy", "country": "unknown", "cross_border": None}
        assert doc["categories"]["preferences"][-1]["name"] == "Our chat"


async def test_etag_revalidates_with_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/_consent/vendors.json?lang=ru")
    etag = first.headers["etag"]
    assert etag.endswith('"') and etag != (await client.get("/_consent/vendors.json?lang=kk")).headers["etag"]
    again = await client.get("/_consent/vendors.json?lang=ru", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"].removeprefix("W/") == etag.removeprefix("W/")  # gzip marks the 200 weak
    other = await client.get("/_consent/vendors.json?lang=en", headers={"if-none-match": etag})
    assert other.status_code == 200 and other.json()["lang"] == "en"


async def test_config_json_no_longer_carries_vendor_lists(client: httpx.AsyncClient) -> None:
    for lang in ("ru", "kk", "en"):
        doc = (await client.get(f"/_consent/config.json?lang={lang}")).json()
        assert [c["id"] for c in doc["categories"]] == ["necessary", "preferences", "analytics", "marketing"]
        assert all(set(c) == {"id", "title"} for c in doc["categories"])  # descriptions: in vendors.json
        assert set(doc["texts"]) == set(BANNER_KEYS)  # the first layer's texts and the settings' labels


async def test_vendors_json_carries_the_second_layer_wording(client: httpx.AsyncClient) -> None:
    for lang in ("ru", "kk", "en"):
        shipped = tomllib.loads((LOCALES / f"{lang}.toml").read_text(encoding="utf-8"))
        doc = (await client.get(f"/_consent/vendors.json?lang={lang}")).json()
        assert doc["details"] == shipped["texts"]["details"] and "94-V" in doc["details"]
        assert doc["descriptions"] == {c: t["description"] for c, t in shipped["categories"].items()}
        config = (await client.get(f"/_consent/config.json?lang={lang}")).json()
        assert len(config["texts"]["body"]) < len(doc["details"]) / 2  # the first layer says it in fewer words


async def test_texts_hash_covers_the_vendor_wording_of_each_language(
        make_client: ClientFactory, settings: Settings) -> None:
    async def hashes(client: httpx.AsyncClient) -> dict[str, str]:
        return {lang: (await client.get(f"/_consent/vendors.json?lang={lang}")).json()["texts_hash"]
                for lang in ("ru", "kk", "en")}

    shipped = await hashes(await make_client(settings))
    assert len(set(shipped.values())) == 3
    assert shipped == await hashes(await make_client(settings))  # deterministic across start-ups
    reworded_ru = await make_client(settings, vendor_overrides={"vendors": {"hotjar": {"purpose_ru": "Иначе."}}})
    changed = await hashes(reworded_ru)
    assert changed["ru"] != shipped["ru"] and changed["kk"] == shipped["kk"] and changed["en"] == shipped["en"]
    etag = (await reworded_ru.get("/_consent/config.json?lang=ru")).headers["etag"]
    assert etag.endswith(f'"{changed["ru"][:16]}"')  # a cached config.json is revalidated when the wording changes


async def test_consent_log_records_the_hash_of_the_language_shown(
        client: httpx.AsyncClient, settings: Settings) -> None:
    kk = (await client.get("/_consent/vendors.json?lang=kk")).json()
    r = await client.put("/_consent/state", content=json.dumps({"action": "reject_all", "lang": "kk"}),
                         headers={"content-type": "application/json", "origin": SITE})
    assert r.status_code == 200
    rows = (await client.app.components.store.history(r.json()["consent_id"]))  # type: ignore[attr-defined]
    assert [row.texts_hash for row in rows] == [kk["texts_hash"]]
