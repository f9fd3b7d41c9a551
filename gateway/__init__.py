"""Self-hosted cookie and tracking-pixel consent gateway."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["ConsentMiddleware", "create_app", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m gateway keygen` and the settings module stay importable without the web stack.
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ConsentMiddleware":
        from .app import ConsentMiddleware

        return ConsentMiddleware
    raise AttributeError(name)
