"""The words of the domain, defined once: categories, actions, events, and the bit layouts built on them.

Two stored formats depend on the order of these tuples, so they are pinned by golden tests
(``tests/test_vocabulary.py``): the signed cookie's granted-category bitmask and action code, and the consent
log's and rollups' category bitmask. Never reorder them; a new category or action goes at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

NECESSARY: Final = "necessary"
# Every category, in the order the banner lists them and the bitmasks number them (necessary=1 ... marketing=8).
CATEGORIES: Final = (NECESSARY, "preferences", "analytics", "marketing")
# The categories a visitor can refuse (opt-in).
OPTIONAL: Final = CATEGORIES[1:]

ACCEPT_ALL: Final = "accept_all"
REJECT_ALL: Final = "reject_all"
CUSTOM: Final = "custom"
WITHDRAW: Final = "withdraw"
ERASE: Final = "erase"
# A visitor's choice (what the cookie carries; its index is the cookie's action code).
CHOICES: Final = (ACCEPT_ALL, REJECT_ALL, CUSTOM)
# Every action the consent log and the receipt record.
ACTIONS: Final = (*CHOICES, WITHDRAW, ERASE)

SHOWN: Final = "shown"
# Anonymous banner events the API accepts.
EVENTS: Final = (SHOWN,)

CATEGORY_BITS: Final = {name: 1 << i for i, name in enumerate(CATEGORIES)}


def categories_to_mask(categories: Iterable[str]) -> int:
    """The bitmask of a set of category names (unknown names are an error, not silently dropped)."""
    return sum(CATEGORY_BITS[name] for name in set(categories))


def mask_to_categories(mask: int) -> frozenset[str]:
    """The category names of a bitmask; bits no category owns are ignored."""
    return frozenset(name for name, bit in CATEGORY_BITS.items() if mask & bit)


def choice_code(action: str) -> int:
    """The cookie's number for a choice."""
    return CHOICES.index(action)


def choice_for_code(code: int) -> str | None:
    """The choice a cookie's action number stands for, or None when it names none."""
    return CHOICES[code] if 0 <= code < len(CHOICES) else None
