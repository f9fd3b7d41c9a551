"""The contract suite runs once per backend: every test taking `store` gets memory and sqlite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import BannerEvent, ConsentRecord, ConsentStore
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore

NOON = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)  # 12:00 in Almaty (UTC+5)
POLICY = "2023-01-12"
ALL_GRANTED = frozenset({"necessary", "preferences", "analytics", "marketing"})
NECESSARY = frozenset({"necessary"})

BASE_RECORD = ConsentRecord(
    consent_id="c-0001",
    at=NOON,
    action="accept_all",
    categories=ALL_GRANTED,
    policy_version=POLICY,
    language="ru",
    gpc=False,
    ip_prefix="203.0.113.0/24",
    device="desktop",
    browser="Chrome",
    os="Windows",
    texts_hash="a" * 64,
)
BASE_EVENT = BannerEvent(
    at=NOON, event="shown", language="ru", policy_version=POLICY, device="desktop", browser="Chrome", os="Windows"
)


def record(**changes: object) -> ConsentRecord:
    """A valid record; `action` alone also sets the categories that action implies."""
    action = changes.get("action")
    if action == "reject_all" and "categories" not in changes:
        changes["categories"] = NECESSARY
    if action in ("withdraw", "erase") and "categories" not in changes:
        changes["categories"] = NECESSARY
    return replace(BASE_RECORD, **changes)  # type: ignore[arg-type]


def event(**changes: object) -> BannerEvent:
    return replace(BASE_EVENT, **changes)  # type: ignore[arg-type]


def make_store(kind: str, tmp_path: Path) -> ConsentStore:
    if kind == "memory":
        return MemoryStore()
    return SqliteStore(tmp_path / "consent.db")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConsentStore]:
    backend = make_store(request.param, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    backend = SqliteStore(tmp_path / "consent.db")
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
