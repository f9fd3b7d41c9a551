from pathlib import Path

import pytest

from gateway.settings import DEFAULT_CONFIG, SettingsError, load_settings

KEY = "k" * 43


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "locales").mkdir(exist_ok=True)
    for lang in ("ru", "kk", "en"):
        (tmp_path / "locales" / f"{lang}.toml").write_text("")
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_holds_wgp_defaults() -> None:
    s = load_settings(env={})
    assert s.origins == ("https://wgp.kz", "https://www.wgp.kz")
    assert s.policy_version == "2023-01-12"
    assert s.cookie_name == "wgp_consent" and s.validity_days == 180
    assert s.cookie_secure and s.cookie_samesite == "lax"
    assert s.categories == ("necessary", "preferences", "analytics", "marketing")
    assert s.secret_keys == () and s.admin_token is None


def test_env_overrides_file_and_flags_override_env() -> None:
    env = {"GATEWAY_PORT": "9001", "GATEWAY_COOKIE_NAME": "c1", "GATEWAY_ORIGINS": "https://a.kz, https://b.kz"}
    s = load_settings(env=env, flags={"cookie_name": "c2"})
    assert s.port == 9001 and s.cookie_name == "c2" and s.origins == ("https://a.kz", "https://b.kz")


def test_secrets_from_env_or_file(tmp_path: Path) -> None:
    keyfile = tmp_path / "keys"
    keyfile.write_text(f"{KEY},{'o' * 40}\n")
    s = load_settings(env={"GATEWAY_SECRET_KEYS_FILE": str(keyfile), "GATEWAY_ADMIN_TOKEN": "t0ken-of-the-analyst"})
    assert s.secret_keys == (KEY, "o" * 40) and s.admin_token == "t0ken-of-the-analyst"
    assert KEY not in repr(s) and "t0ken" not in repr(s)


PG = "postgresql://gateway:pw@db.internal:5432/consent"
PG_OTHER = "postgresql://gateway:pw@db2.internal:5432/consent"
DATABASE_NAMES = [
    ({"GATEWAY_DATABASE_URL": PG}, PG),
    ({"GATEWAY_DATABASE": PG}, PG),  # the older name keeps working
    ({"GATEWAY_DATABASE_URL": PG, "GATEWAY_DATABASE": PG}, PG),  # both, agreeing
    ({}, "sqlite:///data/consent.sqlite3"),
]


@pytest.mark.parametrize(("env", "url"), DATABASE_NAMES, ids=["url", "alias", "both-agree", "default"])
def test_database_url_and_its_older_name(env: dict[str, str], url: str) -> None:
    assert load_settings(env=env).database_url == url


def test_database_url_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(PG + "\n")
    assert load_settings(env={"GATEWAY_DATABASE_URL_FILE": str(secret)}).database_url == PG
    assert load_settings(env={"GATEWAY_DATABASE_URL_FILE": str(secret), "GATEWAY_DATABASE": PG}).database_url == PG


def test_database_url_and_older_name_disagreeing_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "database-url"
    secret.write_text(PG_OTHER)
    for env in ({"GATEWAY_DATABASE_URL": PG, "GATEWAY_DATABASE": PG_OTHER},
                {"GATEWAY_DATABASE_URL_FILE": str(secret), "GATEWAY_DATABASE": PG}):
        with pytest.raises(SettingsError) as err:
            load_settings(env=env)
        assert "GATEWAY_DATABASE_URL and GATEWAY_DATABASE" in str(err.value)
        assert "pw" not in str(err.value)  # never the password


def test_database_url_in_the_config_file_is_refused_as_a_secret(tmp_path: Path) -> None:
    path = write(tmp_path, f'[storage]\ndatabase_url = "{PG}"\n')
    with pytest.raises(SettingsError, match="secrets come from the environment only"):
        load_settings(config=path, env={})


BAD = [
    ({"GATEWAY_ADMIN_TOKEN": "short-token"}, "GATEWAY_ADMIN_TOKEN: must be at least 16 characters"),
    ({"GATEWAY_RATE_LIMIT_WRITES": "-1"}, "rate_limit_writes: must be 0 or more"),
    ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT: port"),
    ({"GATEWAY_PORT": "0"}, "port: must be between 1 and 65535"),
    ({"GATEWAY_VALIDITY_DAYS": "0"}, "validity_days"),
    ({"GATEWAY_REVOCATION_REFRESH_SECONDS": "0"}, "revocation_refresh_seconds: must be between 1 and 300"),
    ({"GATEWAY_COOKIE_SAMESITE": "sometimes"}, "cookie_samesite: must be one of lax, strict, none"),
    ({"GATEWAY_ORIGINS": "wgp.kz"}, "origins: 'wgp.kz' is not an origin"),
    ({"GATEWAY_TIMEZONE": "Mars/Olympus"}, "timezone: unknown time zone"),
    ({"GATEWAY_UPSTREAM": "ftp://x"}, "upstream"),
    ({"GATEWAY_COOKIE_SECURE": "perhaps"}, "expected true or false"),
    ({"GATEWAY_CSP_MODE": "loose"}, "csp_mode"),
    ({"GATEWAY_DEFAULT_LANGUAGE": "de"}, "default_language"),
    ({"GATEWAY_CATEGORIES": "analytics,marketing"}, "categories"),
    ({"GATEWAY_SECRET_KEYS": "short"}, "at least 32 characters"),
    ({"GATEWAY_SECRET_KEYS_FILE": "/nonexistent/keys"}, "cannot read /nonexistent/keys"),
]


@pytest.mark.parametrize(("env", "message"), BAD, ids=[next(iter(e)) for e, _ in BAD])
def test_bad_setting_names_key_and_problem(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(env=env)


def test_bad_file_names_file_section_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[cookie]\ncookie_name = "x"\ncolour = "blue"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(config=path, env={})
    assert str(err.value) == f"{path}: [cookie] colour: unknown setting"


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nsecret_keys = "abc"\n')
    with pytest.raises(SettingsError, match="secrets come from the environment only"):
        load_settings(config=path, env={})


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="invalid TOML"):
        load_settings(config=write(tmp_path, "[site\n"), env={})
    with pytest.raises(SettingsError, match="file not found"):
        load_settings(config=tmp_path / "nope.toml", env={})


def test_wrong_type_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = \"high\"\n")
    with pytest.raises(SettingsError, match=r"\[server\] port: port: invalid literal|\[server\] port"):
        load_settings(config=path, env={})


def test_default_config_path_exists() -> None:
    assert DEFAULT_CONFIG.is_file()


def test_site_config_elsewhere_falls_back_to_shipped_catalogue_and_texts(tmp_path: Path) -> None:
    from gateway.app import Components

    path = tmp_path / "site.toml"
    path.write_text('[vendors.our-crm]\nname = "CRM"\ncategory = "preferences"\nhosts = ["crm.example.kz"]\n'
                    'purpose = "Chat"\npolicy_url = "https://crm.example.kz/privacy"\n'
                    '[allow]\nhosts = ["static.wgp.kz"]\n', encoding="utf-8")
    gateway = Components(load_settings(config=path, env={}, secret_keys=(KEY,)))
    first_party = frozenset({"wgp.kz"})
    assert gateway.catalogue.category_for_url("https://crm.example.kz/w.js", first_party) == "preferences"
    assert gateway.catalogue.category_for_url("https://static.wgp.kz/a.js", first_party) is None
    assert gateway.catalogue.category_for_url("https://unknown.example/a.js", first_party) == "marketing"
    assert set(gateway.api.configs) == {"ru", "kk", "en"}
