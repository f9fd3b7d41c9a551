"""The visitor's consent as an immutable value, and the pure rules about it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .vocabulary import CATEGORIES


def new_consent_id() -> str:
    """128 random bits: the only identifier the gateway ever keeps about a visitor."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class ConsentState:
    """What a visitor has agreed to; `decided` is False until an explicit choice under the current policy."""

    consent_id: str | None = None
    decided: bool = False
    action: str | None = None
    granted: frozenset[str] = field(default_factory=lambda: frozenset({"necessary"}))
    policy_version: str | None = None
    decided_at: datetime | None = None
    gpc: bool = False

    def allows(self, category: str) -> bool:
        return category == "necessary" or (self.decided and category in self.granted)

    def is_stale(self, policy_version: str, now: datetime, validity: timedelta) -> bool:
        """Asked again when the policy changed or the consent is older than its validity."""
        if self.decided_at is None or self.policy_version != policy_version:
            return True
        return now - self.decided_at >= validity

    def blocked(self, categories: tuple[str, ...] = CATEGORIES) -> frozenset[str]:
        return frozenset(c for c in categories if not self.allows(c))

    def current(self, policy_version: str, now: datetime, validity: timedelta) -> ConsentState:
        """This state if it still holds, else an undecided one that keeps the id (so the receipt stays reachable)."""
        if self.decided and self.is_stale(policy_version, now, validity):
            if self.consent_id is None:
                return UNDECIDED
            return replace(UNDECIDED, consent_id=self.consent_id, gpc=self.gpc)
        return self

    def to_json(self, categories: tuple[str, ...], validity: timedelta) -> dict[str, object]:
        expires = self.decided_at + validity if self.decided_at else None
        return {
            "consent_id": self.consent_id,
            "decided": self.decided,
            "action": self.action,
            "categories": {c: self.allows(c) for c in categories},
            "policy_version": self.policy_version,
            "decided_at": _iso(self.decided_at),
            "expires_at": _iso(expires),
            "gpc": self.gpc,
        }


UNDECIDED = ConsentState()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def resolve_choice(
    body: dict[str, object], categories: tuple[str, ...], gpc: bool
) -> tuple[str, frozenset[str]]:
    """Turn a PUT body into (action, granted). Raises ValueError naming what is wrong.

    Under Global Privacy Control "accept all" grants everything but marketing: only a choice that names
    marketing explicitly overrides the browser's standing refusal.
    """
    action = body.get("action")
    chosen = body.get("categories")
    if action is not None and chosen is not None:
        raise ValueError("send either 'action' or 'categories', not both")
    if action is not None:
        if action not in ("accept_all", "reject_all"):
            raise ValueError(f"unknown action {action!r}: expected 'accept_all' or 'reject_all'")
        if action == "reject_all":
            return "reject_all", frozenset({"necessary"})
        granted = frozenset(c for c in categories if not (gpc and c == "marketing"))
        return "accept_all", granted
    if not isinstance(chosen, dict):
        raise ValueError("expected 'action' or a 'categories' object")
    for name, value in chosen.items():
        if name not in categories:
            raise ValueError(f"unknown category {name!r}: expected one of {', '.join(categories)}")
        if not isinstance(value, bool):
            raise ValueError(f"category {name!r} must be true or false")
        if name == "necessary" and value is False:
            raise ValueError("category 'necessary' cannot be refused")
    granted = frozenset({"necessary"} | {c for c, v in chosen.items() if v})
    optional = [c for c in categories if c != "necessary"]
    if all(c in granted for c in optional):
        return "accept_all", granted
    if not any(c in granted for c in optional):
        return "reject_all", granted
    return "custom", granted
