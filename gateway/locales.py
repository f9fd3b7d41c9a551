"""Banner texts per language, the config.json and vendors.json the banner reads, and the hash that proves
what was shown."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

TEXT_KEYS = ("title", "body", "policy_link", "accept_all", "reject_all", "customize", "save", "close",
             "settings_title", "always_on", "placeholder", "load", "reopen")
# Optional texts: the second layer's full wording (vendors.json) and the short texts of the no-JavaScript form.
OPTIONAL_KEYS = ("details", "noscript_body", "noscript_link")
# What config.json carries: the first layer, and the labels that let the second layer work on its own.
# The long texts, category descriptions and vendor lists go to vendors.json, fetched when the settings open.
BANNER_KEYS = ("title", "body", "policy_link", "accept_all", "reject_all", "customize", "save", "close",
               "settings_title", "always_on", "reopen")
ALIASES = {"kz": "kk"}
# The cookie declaration's texts ([declaration] in each locale file): the facts Law No. 94-V asks a consent to state.
DECLARATION_KEYS = ("title", "intro", "facts", "operator", "bin", "bin_missing", "term", "term_value", "law",
                    "recipients", "caption", "vendor", "purpose", "country", "cross_border", "cookies", "yes", "no",
                    "unknown", "days", "session", "not_stated", "policy", "no_vendors", "scanned", "not_scanned",
                    "others", "choice", "no_choice", "granted", "refused", "change", "second_layer", "own_vendor",
                    "own_purpose")


# The analyst's dashboard and the scan's HTML report: the product's own wording, from the shipped locale files'
# [dashboard] and [scan_report] tables (a site's locale files change the banner, not these). Every key in every
# language: ui_texts refuses a file that lacks one.
DASHBOARD_KEYS = ("title", "page_title", "range", "range_form", "from", "to", "show", "quick_ranges", "last_days",
                  "csv", "languages", "empty", "headline", "shown", "decisions", "interaction_rate", "opt_in",
                  "gpc_share", "withdrawals", "erasures", "opt_in_title", "opt_in_chart", "opt_in_desc",
                  "opt_in_table", "mix_title", "mix_chart", "mix_desc", "mix_table", "day", "breakdowns",
                  "breakdown_chart", "breakdown_desc", "no_decisions", "table", "hosts_title", "hosts_caption", "host",
                  "reports", "no_hosts", "error_not_date", "error_reversed", "error_too_long", "error_default",
                  "device", "browser", "os", "language", "policy_version", "accept_all", "reject_all", "custom",
                  "withdraw", "preferences", "analytics", "marketing", "desktop", "mobile", "tablet", "other",
                  "sign_in_title", "sign_in", "disabled_title", "disabled", "too_many_title", "too_many")
SCAN_REPORT_KEYS = ("title", "scanned", "stopped_done", "stopped_pages", "stopped_time", "note_no_banner",
                    "note_offline", "leaks", "leak_count", "no_leaks", "page", "state", "kind", "what", "vendor",
                    "category", "cause", "fix", "vendors", "hosts", "cookies_storage", "pages_count", "unknown_title",
                    "cookies", "chart", "chart_title", "chart_value", "not_necessary", "necessary_or_allowed",
                    "pages", "details", "seen", "nothing", "before", "reject", "accept", "request", "cookie",
                    "storage", "first_party", "third_party", "session", "days", "load", "reload", "unknown",
                    "necessary", "preferences", "analytics", "marketing", "own_vendor", "fix_request",
                    "fix_unknown_request", "fix_cookie", "fix_storage", "languages")
UI_TABLES = {"dashboard": DASHBOARD_KEYS, "scan_report": SCAN_REPORT_KEYS}
UI_LANGUAGES = ("ru", "kk", "en")


def ui_texts(table: str, locale_file: Callable[[str], Path], languages: Iterable[str] = UI_LANGUAGES
             ) -> dict[str, dict[str, str]]:
    """language -> the texts of one UI table (``dashboard`` or ``scan_report``), plus ``language_name`` (the
    language's own name, for the switch); ValueError naming the file and the first missing key."""
    out: dict[str, dict[str, str]] = {}
    for lang in languages:
        path = locale_file(lang)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        texts = _table(data, table)
        name = data.get("language_name")
        for key in UI_TABLES[table]:
            if key not in texts:
                raise ValueError(f"{path}: [{table}] {key}: missing")
        if not isinstance(name, str):
            raise ValueError(f"{path}: language_name: missing")
        out[lang] = {**{k: texts[k] for k in UI_TABLES[table]}, "language_name": name}
    return out


@dataclass(frozen=True)
class BannerConfig:
    """config.json and vendors.json for one language, ready to send, with the hash of everything they show."""

    lang: str
    body: bytes
    texts_hash: str  # covers config.json's texts and the vendor list of vendors.json in this language
    texts: Mapping[str, str]
    category_titles: Mapping[str, str]
    vendors_body: bytes = b""
    vendors_etag: str = ""
    descriptions: Mapping[str, str] = field(default_factory=dict)  # category -> its description
    declaration: Mapping[str, str] = field(default_factory=dict)  # [declaration] texts
    countries: Mapping[str, str] = field(default_factory=dict)  # ISO code -> country name in this language


def load_locale(path: Path, categories: Iterable[str]) -> dict[str, object]:
    """Read one locale file; raise ValueError naming the file and the missing key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    texts = data.get("texts", {})
    for key in TEXT_KEYS:
        if not isinstance(texts.get(key), str):
            raise ValueError(f"{path}: [texts] {key}: missing")
    for cat in categories:
        table = data.get("categories", {}).get(cat, {})
        for key in ("title", "description"):
            if not isinstance(table.get(key), str):
                raise ValueError(f"{path}: [categories.{cat}] {key}: missing")
    return data


def build_configs(
    locale_file: Callable[[str], Path],
    languages: Iterable[str],
    categories: tuple[str, ...],
    vendors: Callable[[str], Mapping[str, list[dict[str, object]]]],
    policy_url: str,
    policy_version: str,
    declaration_url: str = "",
    shipped_file: Callable[[str], Path] | None = None,
) -> dict[str, BannerConfig]:
    """One BannerConfig per language, built once at start-up.

    config.json carries what the first layer shows (and the second layer's labels and titles), so a first
    visit downloads little. vendors.json, which the banner fetches only when the second layer opens, carries
    the rest: the full wording (``details``), each category's description and its vendors
    ({"name", "purpose", "policy_url", "country", "cross_border"}, worded in ``lang`` by ``vendors(lang)``)
    and, when given, the cookie declaration's address (``declaration_url``, with ``?lang=``). The texts_hash
    covers both documents, so a logged consent proves all the wording the visitor could see.

    The declaration's texts come from the locale file's ``[declaration]`` and ``[countries]`` tables, each key
    missing there taken from the shipped file (``shipped_file(lang)``), so a site's own locale files need not
    repeat them.
    """
    langs = list(languages)
    out: dict[str, BannerConfig] = {}
    for lang in langs:
        data = load_locale(locale_file(lang), categories)
        given: Mapping[str, object] = data["texts"]  # type: ignore[assignment]
        texts = {k: str(given[k]) for k in TEXT_KEYS}
        texts.update({k: given[k] for k in OPTIONAL_KEYS if isinstance(given.get(k), str)})  # type: ignore[misc]
        shipped_path = shipped_file(lang) if shipped_file else None
        shipped = load_locale(shipped_path, categories) if shipped_path is not None and shipped_path.is_file() else {}
        declaration = _table(shipped, "declaration") | _table(data, "declaration")
        missing = [k for k in DECLARATION_KEYS if k not in declaration]
        if missing:
            raise ValueError(f"{locale_file(lang)}: [declaration] {missing[0]}: missing")
        countries = _table(shipped, "countries") | _table(data, "countries")
        listed = vendors(lang)
        by_category = {c: [_disclosed(v, declaration, countries) for v in listed.get(c, [])] for c in categories}
        cats = [{"id": c, "required": c == "necessary", **data["categories"][c]} for c in categories]  # type: ignore[index]
        shown = {"lang": lang, "policy_url": policy_url, "policy_version": policy_version,
                 "categories": [{**c, "vendors": by_category[c["id"]]} for c in cats], "texts": texts}
        if declaration_url:
            shown["declaration_link"] = declaration["title"]
        digest = hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        doc = {"lang": lang, "policy_version": policy_version, "policy_url": policy_url,
               "categories": [{"id": c["id"], "title": c["title"]} for c in cats],
               "texts": {k: texts[k] for k in BANNER_KEYS}}
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        # The hash of everything shown, which the consent log records, is published with the second layer: the
        # first layer's bytes are the ones every visitor downloads.
        second: dict[str, object] = {"lang": lang, "texts_hash": digest, "details": texts.get("details", ""),
                                     "descriptions": {c["id"]: c["description"] for c in cats},
                                     "categories": by_category}
        if declaration_url:  # the second layer links to the cookie declaration, named by its title
            second["declaration_url"] = f"{declaration_url}?lang={lang}"
            second["declaration_link"] = declaration["title"]
        vendors_body = json.dumps(second, ensure_ascii=False, separators=(",", ":")).encode()
        titles = {str(c["id"]): str(c["title"]) for c in cats}
        out[lang] = BannerConfig(lang, body, digest, texts, titles, vendors_body,
                                 f'"{hashlib.sha256(vendors_body).hexdigest()[:16]}"',
                                 descriptions={str(c["id"]): str(c["description"]) for c in cats},
                                 declaration=declaration,
                                 countries=countries)
    return out


def _disclosed(vendor: Mapping[str, object], texts: Mapping[str, str], countries: Mapping[str, str]
               ) -> dict[str, object]:
    """A vendor as the second layer lists it: the purpose followed by where its data go and whether that is a
    cross-border transfer (banner.js shows name and purpose; this says the rest without a byte more of it)."""
    out = dict(vendor)
    if "country" not in vendor:
        return out
    code, border = str(vendor["country"]), vendor.get("cross_border")
    where = texts["unknown"] if code == "unknown" else f"{countries.get(code, code)} ({code})"
    crossing = texts["unknown"] if border is None else texts["yes"] if border else texts["no"]
    out["purpose"] = (texts["second_layer"].replace("{purpose}", str(vendor.get("purpose", "")))
                      .replace("{country}", where).replace("{cross_border}", crossing))
    return out


def _table(data: Mapping[str, object], name: str) -> dict[str, str]:
    """The string values of one optional table of a locale file."""
    table = data.get(name, {})
    return {str(k): v for k, v in table.items() if isinstance(v, str)} if isinstance(table, Mapping) else {}


def negotiate(requested: str | None, accept_language: str | None, languages: tuple[str, ...], default: str) -> str:
    """The page's language if we have it, then the browser's preferences, then the default."""
    if requested:
        lang = requested.strip().lower().split("-")[0]
        lang = ALIASES.get(lang, lang)
        if lang in languages:
            return lang
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        lang = ALIASES.get(lang, lang)
        if lang in languages and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else default
