"""Consent storage: the records, the ``ConsentStore`` protocol every backend implements, and ``open_store``.

The store knows no HTTP. Routes write through ``append``/``erase``/``record_event``/``record_csp_report`` and the
admin side reads ``summary``; every backend passes the same contract suite (tests/store/).

Guarantees every backend gives:
- ``append`` (and the other writes) return only once the write is durable; several concurrent writes share one
  commit (group commit) and a failed commit raises ``StoreWriteError`` in every writer of that batch.
- Rollups are updated in the same transaction as the log, so a crash never double-counts or misses a record.
- The log is append-only apart from ``erase`` (right to destruction) and ``purge`` (retention); rollups hold no
  identifier and survive both.
- Records from bots (device ``"bot"``) are logged if they arrive but never count in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

CATEGORIES = ("necessary", "preferences", "analytics", "marketing")
ACTIONS = ("accept_all", "reject_all", "custom", "withdraw", "erase")
DECISIONS = ("accept_all", "reject_all", "custom")
EVENTS = ("shown",)
DEFAULT_TIMEZONE = "Asia/Almaty"


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
    action: str  # one of ACTIONS
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
    event: str  # "shown"
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
        """Metrics for local days ``start``..``end`` inclusive, in the store's time zone (see gateway.summary)."""

    async def purge(self, before: datetime) -> int:
        """Delete log rows older than ``before``; rollups are kept. Returns how many rows went."""


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


def check_range(start: date, end: date, max_days: int = 3660) -> None:
    if end < start:
        raise ValueError(f"range ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if end - start > timedelta(days=max_days):
        raise ValueError(f"range longer than {max_days} days")


def open_store(url: str, timezone: str = DEFAULT_TIMEZONE, **options: int) -> ConsentStore:
    """Build (not open) a store from a URL: ``sqlite:///relative/or//abs/path.db``, a plain path, or ``memory:``.

    The result is also an async context manager: ``async with open_store(url) as store: ...`` opens and closes it.
    Keyword options go to the backend constructor (``batch_max`` for SQLite).
    """
    if url in ("memory:", "memory://"):
        from gateway.store.memory import MemoryStore

        return MemoryStore(timezone=timezone)
    if url.startswith(("postgres://", "postgresql://")):
        raise ValueError("PostgreSQL storage is not available yet; use sqlite:///path/to/consent.db")
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise ValueError(f"bad SQLite URL {url!r}: expected sqlite:///path/to/file.db")
        path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db (SQLAlchemy's convention)
    elif "://" in url:
        raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path, a file path or memory:")
    else:
        path = url
    if not path:
        raise ValueError(f"bad store URL {url!r}: no file path")
    from gateway.store.sqlite import SqliteStore

    return SqliteStore(Path(path), timezone=timezone, **options)


__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "DECISIONS",
    "BannerEvent",
    "ConsentRecord",
    "ConsentStore",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
    "open_store",
]
