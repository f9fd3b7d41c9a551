"""A consent record as the SQL backends store it, and back: one encoding, so SQLite and PostgreSQL rows (and the
hash chain computed over them) are the same values.

``at`` is UTC microseconds since the epoch (exact round trip, sortable, portable); the categories a bitmask.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.store.records import ConsentRecord
from gateway.vocabulary import categories_to_mask, mask_to_categories

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(at: datetime) -> int:
    delta = at.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def log_row(record: ConsentRecord) -> tuple[Any, ...]:
    """The stored fields of a record, in ``schema.LOG_FIELDS`` order (what ``chain.canonical`` hashes)."""
    return (
        record.consent_id, to_micros(record.at), record.action, categories_to_mask(record.categories),
        record.policy_version, record.language, int(record.gpc), record.ip_prefix, record.device, record.browser,
        record.os, record.texts_hash,
    )


def log_record(row: Any) -> ConsentRecord:
    consent_id, at, action, mask, policy_version, language, gpc, ip_prefix, device, browser, os, texts_hash = row
    return ConsentRecord(
        consent_id=consent_id, at=from_micros(at), action=action, categories=mask_to_categories(mask),
        policy_version=policy_version, language=language, gpc=bool(gpc), ip_prefix=ip_prefix, device=device,
        browser=browser, os=os, texts_hash=texts_hash,
    )
