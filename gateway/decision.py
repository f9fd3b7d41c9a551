"""decide(): from a visitor's consent and the request facts to what the response must block and show."""

from __future__ import annotations

from dataclasses import dataclass

from .consent import ConsentState
from .vocabulary import CATEGORIES


@dataclass(frozen=True)
class Decision:
    blocked: frozenset[str]        # categories whose trackers must not load
    show_banner: bool              # inject the banner script
    decided: bool                  # an explicit, current choice (the CSP admits only what it granted)
    consent_mode: tuple[tuple[str, str], ...]   # Google Consent Mode v2 defaults, all seven keys

    def __hash__(self) -> int:
        """Computed once: a decision keys several per-request caches."""
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.blocked, self.show_banner, self.decided, self.consent_mode))
            object.__setattr__(self, "_hash", cached)
        return cached


def consent_mode(state: ConsentState) -> tuple[tuple[str, str], ...]:
    def g(category: str) -> str:
        return "granted" if state.allows(category) else "denied"

    return (
        ("ad_storage", g("marketing")), ("ad_user_data", g("marketing")), ("ad_personalization", g("marketing")),
        ("analytics_storage", g("analytics")),
        ("functionality_storage", g("preferences")), ("personalization_storage", g("preferences")),
        ("security_storage", "granted"),
    )


def decide(state: ConsentState, is_bot: bool, categories: tuple[str, ...] = CATEGORIES) -> Decision:
    """Bots get every optional tracker blocked and no banner; people get exactly what they granted."""
    if is_bot:
        blocked = frozenset(c for c in categories if c != "necessary")
        return Decision(blocked, False, True, consent_mode(ConsentState()))
    return Decision(state.blocked(categories), True, state.decided, consent_mode(state))
