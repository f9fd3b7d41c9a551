"""What every storage backend shares: the records, the ``ConsentStore`` protocol, the errors and the checks.

The backends (memory.py, sqlite.py) and the rollup code import this module, never the package, so ``open_store``
in ``gateway.store`` can import the backends without a circle. It knows no HTTP and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from gateway.vocabulary import ACTIONS, CATEGORIES, EVENTS

DEFAULT_TIMEZONE = "Asia/Almaty"
# The longest summary, in days, both ends included: three years. Longer is a mistake, not a report; the dashboard,
# the API and `report` refuse it before they ask the store, which refuses it too.
MAX_RANGE_DAYS = 3 * 366


class StoreError(Exception):
    """Base class of storage failures."""


class StoreWriteError(StoreError):
    """The transaction holding this write did not commit: nothing of it was kept, so it must not be acknowledged."""


class StoreClosedError(StoreError):
    """A write arrived after ``close()`` started."""


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One line of the consent log: the proof of a decision (who = random id, when, what was shown and chosen)."""

    consent_id: str
    at: datetime  # aware, UTC
    action: str  # one of gateway.vocabulary.ACTIONS
    categories: frozenset[str]  # granted, "necessary" included
    policy_version: str
    language: str
    gpc: bool
    ip_prefix: str | None  # "203.0.113.0/24", "2001:db8:1::/48" or None
    device: str  # families from gateway.useragent
    browser: str
    os: str
    texts_hash: str  # sha256 of the exact banner texts/settings shown


@dataclass(frozen=True, slots=True)
class BannerEvent:
    """An anonymous banner impression: counted in a rollup, never logged with an identifier."""

    at: datetime
    event: str  # one of gateway.vocabulary.EVENTS
    language: str
    policy_version: str
    device: str
    browser: str
    os: str


@runtime_checkable
class ConsentStore(Protocol):
    timezone: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> ConsentStore:
        """open(); every backend is usable as `async with open_store(url) as store:`."""

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def ping(self) -> bool: ...

    async def append(self, record: ConsentRecord) -> None:
        """Return only after the record (and its rollup counts) are durable."""

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        """That id's records, oldest first."""

    async def erase(self, consent_id: str, proof: ConsentRecord | None = None) -> int:
        """Delete that id's log rows and return how many; append ``proof`` in the same transaction when given."""

    async def record_event(self, event: BannerEvent) -> None: ...

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None: ...

    async def summary(self, start: date, end: date) -> dict[str, object]:
        """Metrics for local days ``start``..``end`` inclusive, in the store's time zone (see gateway.store.summary)."""

    async def purge(self, before: datetime) -> int:
        """Delete log rows (and revocations) older than ``before``; rollups are kept. Returns how many rows went."""

    async def revoked_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """(consent id, when) of every withdrawal and erasure at or after ``since``, oldest first.

        Kept apart from the log, written in the same transaction as the ``withdraw`` record or the erasure, so an
        erasure (which deletes the id's withdrawals) or a proof-less erase still counts; every gateway process
        polls this to refuse replayed cookies (gateway.revocations)."""


def validate_record(record: ConsentRecord) -> None:
    """Reject a record no backend could store faithfully, before it joins a batch shared with other writers."""
    if record.action not in ACTIONS:
        raise ValueError(f"unknown action {record.action!r}")
    unknown = record.categories - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown categories {sorted(unknown)!r}")
    _require_aware(record.at)


def validate_event(event: BannerEvent) -> None:
    if event.event not in EVENTS:
        raise ValueError(f"unknown event {event.event!r}")
    _require_aware(event.at)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")


def check_range(start: date, end: date) -> None:
    """Refuse a summary range a backend must not read: reversed, or longer than ``MAX_RANGE_DAYS``."""
    if end < start:
        raise ValueError(f"range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"range longer than {MAX_RANGE_DAYS} days")
