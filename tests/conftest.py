"""Shared fixtures: settings for tests, the real app over httpx.ASGITransport with its store opened."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings, load_settings

KEY = "test-signing-key-" + "x" * 32
OLD_KEY = "old-signing-key-" + "y" * 32
ADMIN_TOKEN = "admin-secret-token"
SITE = "https://wgp.kz"
CLIENT_IP = "203.0.113.77"
BROWSER_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, secret_keys=(KEY,), data_dir=tmp_path, admin_token=ADMIN_TOKEN)


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Build the real app from settings (with overrides) and an httpx client on it, store opened."""
    opened: list[tuple[httpx.AsyncClient, Any]] = []

    async def factory(settings: Settings, **overrides: Any) -> httpx.AsyncClient:
        app = create_app(dataclasses.replace(settings, **overrides))
        await app.startup()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000)),
                                   base_url=SITE, headers={"user-agent": BROWSER_UA})
        client.app = app  # type: ignore[attr-defined]
        opened.append((client, app))
        return client

    yield factory
    for client, app in opened:
        await client.aclose()
        await app.shutdown()


@pytest.fixture
async def client(make_client: ClientFactory, settings: Settings) -> httpx.AsyncClient:
    return await make_client(settings)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last: Playwright's sync API keeps its own event loop alive for the session."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
