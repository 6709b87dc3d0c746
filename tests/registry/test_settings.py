import secrets

import pytest

from api.app import create_app
from registry.settings import Settings, SettingsError, secret_problem

REAL = "Zq8-vN3kW1rT6yHb0pLs4Xc9Ue2Gm7Jd5Af"  # 36 characters, no repeats, ~170 bits
DB = "postgresql://guardreg@db.internal/guardreg"


def test_development_accepts_placeholders() -> None:
    Settings(mode="development").check_secrets()


def test_production_refuses_placeholder_secrets_and_says_which() -> None:
    with pytest.raises(SettingsError, match="GUARDREG_BIOMETRIC_SECRET"):
        Settings(mode="production", database_url=DB).check_secrets()
    with pytest.raises(SettingsError, match="GUARDREG_APIKEY_PEPPER"):
        Settings(mode="production", database_url=DB, biometric_secret=REAL,
                 key_passphrase=REAL, apikey_pepper="short").check_secrets()
    with pytest.raises(SettingsError, match="GUARDREG_PII_SECRET"):
        Settings(mode="production", database_url=DB, biometric_secret=REAL,
                 key_passphrase=REAL, apikey_pepper=REAL).check_secrets()
    Settings(mode="production", database_url=DB, biometric_secret=REAL, key_passphrase=REAL,
             apikey_pepper=REAL, pii_secret=REAL).check_secrets()


@pytest.mark.parametrize(("secret", "why"), [
    ("a" * 32, "entropy"),
    ("x" * 40, "entropy"),
    ("abcd" * 8, "entropy"),
    ("0123456789abcdef0123456789abcdef", "repeats"),
    ("password1234567890password1234567890", "repeats"),
    ("dev-only-" + secrets.token_hex(20), "placeholder"),
    (secrets.token_hex(15), "shorter"),
])
def test_low_entropy_secrets_are_refused_with_the_reason(secret: str, why: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None and why in problem
    with pytest.raises(SettingsError, match=why) as caught:
        Settings(mode="production", database_url=DB, biometric_secret=REAL,
                 key_passphrase=secret, apikey_pepper=REAL, pii_secret=REAL).check_secrets()
    assert secret not in str(caught.value)  # the message names the setting, not the value


@pytest.mark.parametrize("make", [lambda: secrets.token_hex(16), lambda: secrets.token_hex(32),
                                  lambda: secrets.token_urlsafe(32)])
def test_random_tokens_pass(make: object) -> None:
    for _ in range(200):
        token = make()  # type: ignore[operator]
        assert secret_problem(token) is None, token


def test_production_refuses_the_embedded_database() -> None:
    settings = Settings(mode="production", database_url=None, biometric_secret=REAL,
                        key_passphrase=REAL, apikey_pepper=REAL, pii_secret=REAL)
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        settings.check_secrets()
    with pytest.raises(SettingsError, match="embedded"):
        create_app(settings)


def test_open_runtime_refuses_before_starting_anything(tmp_path: object) -> None:
    from api.runtime import open_runtime

    settings = Settings(mode="production", database_url=None, data_dir=tmp_path,
                        biometric_secret=REAL, key_passphrase=REAL, apikey_pepper=REAL,
                        pii_secret=REAL)
    with pytest.raises(SettingsError):
        open_runtime(settings)
    assert not (tmp_path / "pgdata").exists()  # type: ignore[operator]


def test_the_app_refuses_to_start_in_production_with_placeholders() -> None:
    with pytest.raises(SettingsError):
        create_app(Settings(mode="production"))


def test_purpose_keys_differ_and_are_stable() -> None:
    s = Settings(biometric_secret=REAL)
    a = s.derive_key("biometric_secret", "photo")
    assert a == Settings(biometric_secret=REAL).derive_key("biometric_secret", "photo")
    assert a != s.derive_key("biometric_secret", "face-transform-v1")
    assert len(a) == 32
