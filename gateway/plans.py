"""Planner: a visitor's consent and the request facts -> the Decision, and the Decision -> the rewrite plan.

Pure and built once from settings by the composition root. A site has few distinct (consent class,
User-Agent) and (decision, Host, Accept-Language, nonce) combinations, so each is decided and planned once
and served from a bounded cache after that: the per-request path pays a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from .consent import ConsentState
from .decision import Decision, decide
from .locales import BannerConfig, negotiate
from .rewrite import FilterPlan, banner_tag, consent_mode_script, noscript_form
from .useragent import classify
from .vendors import Catalogue

CACHE_SIZE = 1024


class Planner:
    def __init__(self, *, catalogue: Catalogue, categories: tuple[str, ...], first_party: frozenset[str],
                 configs: Mapping[str, BannerConfig], languages: tuple[str, ...], default_language: str,
                 banner_path: str, banner_src: str, csp_in_tag: bool, csp_strict_first_visit: bool, state_path: str,
                 policy_url: str) -> None:
        """``csp_in_tag``: an enforced per-visitor CSP is on, so the banner tag tells the banner what it admits
        (a choice wider than that needs a reload); with ``csp_strict_first_visit`` an undecided visitor's
        policy admits only what a refusal does."""
        self._catalogue = catalogue
        self._categories = categories
        self._first_party = first_party
        self._configs = configs
        self._languages = languages
        self._default_language = default_language
        self._banner_path = banner_path
        self._banner_src = banner_src
        self._csp_in_tag = csp_in_tag
        self._csp_strict = csp_strict_first_visit
        self._state_path = state_path
        self._policy_url = policy_url
        self._decide = lru_cache(maxsize=CACHE_SIZE)(self._decide_uncached)
        self.plan = lru_cache(maxsize=CACHE_SIZE)(self._plan_uncached)

    def decision(self, state: ConsentState, user_agent: bytes) -> Decision:
        return self._decide(state.granted, state.decided, user_agent)

    def _decide_uncached(self, granted: frozenset[str], decided: bool, user_agent: bytes) -> Decision:
        is_bot = classify(user_agent.decode("latin-1")).is_bot
        return decide(ConsentState(decided=decided, granted=granted), is_bot, self._categories)

    def _plan_uncached(self, decision: Decision, host_header: bytes, accept_language: bytes | None,
                       nonce: str | None) -> FilterPlan:
        host = host_header.decode("latin-1").rsplit(":", 1)[0].lower()
        lang = negotiate(None, None if accept_language is None else accept_language.decode("latin-1"),
                         self._languages, self._default_language)
        texts = self._configs[lang].texts
        return FilterPlan(
            blocked=decision.blocked, catalogue=self._catalogue, first_party=self._first_party | {host},
            head_html=self._head_html(decision, nonce), early_html=consent_mode_script(decision.consent_mode, nonce),
            body_html=self._form(decision, texts),
            placeholder=f"{texts['placeholder']} {texts['load']}",
            category_labels=tuple(self._configs[lang].category_titles.items()),
            banner_path=self._banner_path,
        )

    def _form(self, decision: Decision, texts: Mapping[str, str]) -> str:
        """The no-JavaScript consent form, for a person who has not decided yet."""
        if decision.decided or not decision.show_banner:
            return ""
        return noscript_form(self._state_path, texts["title"], texts.get("noscript_body", ""),
                             texts.get("noscript_link") or texts["policy_link"], self._policy_url,
                             texts["accept_all"], texts["reject_all"])

    def _head_html(self, decision: Decision, nonce: str | None) -> str:
        """The banner script, before </head>; nothing for bots."""
        if not decision.show_banner:
            return ""
        granted = None
        if self._csp_in_tag and (decision.decided or self._csp_strict):
            granted = tuple(c for c in self._categories if c not in decision.blocked)
        return banner_tag(self._banner_src, nonce, granted)
