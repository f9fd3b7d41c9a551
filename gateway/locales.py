"""Banner texts per language, the config.json the banner reads, and the hash that proves what was shown."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TEXT_KEYS = ("title", "body", "policy_link", "accept_all", "reject_all", "customize", "save", "close",
             "settings_title", "always_on", "placeholder", "load", "reopen")
ALIASES = {"kz": "kk"}


@dataclass(frozen=True)
class BannerConfig:
    """config.json for one language, ready to send, with the hash of everything it shows."""

    lang: str
    body: bytes
    texts_hash: str
    texts: Mapping[str, str]
    category_titles: Mapping[str, str]


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
    vendors: Mapping[str, list[dict[str, str]]],
    policy_url: str,
    policy_version: str,
) -> dict[str, BannerConfig]:
    """One BannerConfig per language, built once at start-up."""
    langs = list(languages)
    out: dict[str, BannerConfig] = {}
    for lang in langs:
        data = load_locale(locale_file(lang), categories)
        texts = {k: data["texts"][k] for k in TEXT_KEYS}  # type: ignore[index]
        cats = [
            {"id": c, "required": c == "necessary", **data["categories"][c], "vendors": vendors.get(c, [])}  # type: ignore[index]
            for c in categories
        ]
        shown = {"lang": lang, "policy_url": policy_url, "policy_version": policy_version,
                 "categories": cats, "texts": texts}
        digest = hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        doc = {"lang": lang, "languages": langs, "policy_version": policy_version, "policy_url": policy_url,
               "texts_hash": digest, "categories": cats, "texts": texts}
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        titles = {c["id"]: c["title"] for c in cats}
        out[lang] = BannerConfig(lang, body, digest, texts, titles)
    return out


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
