"""The contract suite runs once per backend: every test taking `store` gets memory, sqlite and postgres.

PostgreSQL: the database in GATEWAY_TEST_POSTGRES_URL (`.ci/postgres` starts one), a fresh schema per test. Without
the variable the postgres cases skip, unless CI=true, where they fail: a CI that lost its database must not pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.store import BannerEvent, ConsentRecord, ConsentStore
from gateway.store.memory import MemoryStore
from gateway.store.postgres import PostgresStore
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


def postgres_url() -> str:
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but GATEWAY_TEST_POSTGRES_URL is not set: the PostgreSQL contract cannot run")
        pytest.skip("GATEWAY_TEST_POSTGRES_URL is not set (.ci/postgres starts a throw-away cluster)")
    return url


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh schema in the test database, dropped afterwards; yields a URL whose connections use it."""
    import asyncpg

    url = postgres_url()
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        try:
            yield f"{url}{'&' if '?' in url else '?'}search_path={name}"
        finally:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConsentStore]:
    if request.param == "postgres":
        async with postgres_schema() as url, PostgresStore(url) as backend:
            yield backend
        return
    backend = make_store(request.param, tmp_path)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def postgres_store() -> AsyncIterator[PostgresStore]:
    async with postgres_schema() as url, PostgresStore(url) as backend:
        yield backend


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    backend = SqliteStore(tmp_path / "consent.db")
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
