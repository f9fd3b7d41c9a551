"""Where the shipped ``config/`` and ``static/`` folders are, as paths on disk.

In a built wheel they are package data under ``gateway/_data/`` (setup.py copies the repository's top-level
folders there), found through ``importlib.resources``; in a checkout (editable install, or tests run from the
repository) they are the repository's own top-level folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The shipped folder `name` ("config" or "static"): the installed package's copy, else the checkout's."""
    packaged = resources.files("gateway").joinpath("_data", name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return _CHECKOUT / name


CONFIG_DIR = shipped_dir("config")
STATIC_DIR = shipped_dir("static")
