import pytest

from api.app import create_app
from registry.settings import Settings, SettingsError

REAL = "x" * 40


def test_development_accepts_placeholders() -> None:
    Settings(mode="development").check_secrets()


def test_production_refuses_placeholder_secrets_and_says_which() -> None:
    with pytest.raises(SettingsError, match="GUARDREG_BIOMETRIC_SECRET"):
        Settings(mode="production").check_secrets()
    with pytest.raises(SettingsError, match="GUARDREG_APIKEY_PEPPER"):
        Settings(mode="production", biometric_secret=REAL, key_passphrase=REAL,
                 apikey_pepper="short").check_secrets()
    Settings(mode="production", biometric_secret=REAL, key_passphrase=REAL,
             apikey_pepper=REAL).check_secrets()


def test_the_app_refuses_to_start_in_production_with_placeholders() -> None:
    with pytest.raises(SettingsError):
        create_app(Settings(mode="production"))


def test_purpose_keys_differ_and_are_stable() -> None:
    s = Settings(biometric_secret=REAL)
    a = s.derive_key("biometric_secret", "photo")
    assert a == Settings(biometric_secret=REAL).derive_key("biometric_secret", "photo")
    assert a != s.derive_key("biometric_secret", "face-transform-v1")
    assert len(a) == 32
