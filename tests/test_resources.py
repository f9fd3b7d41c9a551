from pathlib import Path

import pytest

from gateway import resources
from gateway.settings import DEFAULT_CONFIG, Settings

CHECKOUT = Path(__file__).resolve().parents[1]


def test_a_checkout_reads_the_repository_folders() -> None:
    assert resources.CONFIG_DIR == CHECKOUT / "config"
    assert resources.STATIC_DIR == CHECKOUT / "static"
    assert DEFAULT_CONFIG == CHECKOUT / "config" / "gateway.toml"


def test_settings_default_to_the_shipped_folders() -> None:
    s = Settings()
    assert (s.config_dir, s.static_dir) == (resources.CONFIG_DIR, resources.STATIC_DIR)
    assert s.config_file("locales/ru.toml") == CHECKOUT / "config" / "locales" / "ru.toml"
    assert (s.static_dir / "banner" / "banner.js").is_file()


def test_an_installed_package_reads_its_own_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_data" / "config").mkdir(parents=True)
    monkeypatch.setattr(resources.resources, "files", lambda package: tmp_path)
    assert resources.shipped_dir("config") == tmp_path / "_data" / "config"
    assert resources.shipped_dir("static") == CHECKOUT / "static"  # not in this package: the checkout's
