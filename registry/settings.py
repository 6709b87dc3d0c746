"""The one typed settings object, read from the environment (prefix ``GUARDREG_``).

``DATABASE_URL`` is read without prefix, as is customary. In development mode
(the default) placeholder secrets are accepted so a newcomer can start the service
with no set-up; any other mode refuses to start with them.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_PREFIX = "dev-only-"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class SettingsError(RuntimeError):
    """The settings cannot be used (placeholder secret in production, bad value)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDREG_", extra="ignore")

    mode: Literal["development", "production", "test"] = "development"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GUARDREG_DATABASE_URL")
    )
    data_dir: Path = Path("var")
    db_pool_min: int = 1
    db_pool_max: int = 10
    db_statement_timeout_ms: int = 5000
    db_connect_timeout_s: int = 3

    # Secrets. Each purpose-specific key is derived from its master secret with HKDF,
    # so a secret never serves two purposes.
    biometric_secret: SecretStr = SecretStr(PLACEHOLDER_PREFIX + "biometric-secret-change-me")
    key_passphrase: SecretStr = SecretStr(PLACEHOLDER_PREFIX + "signing-key-passphrase")
    apikey_pepper: SecretStr = SecretStr(PLACEHOLDER_PREFIX + "apikey-pepper-change-me")
    # Symmetric cipher for biometric data at rest: AES-GCM by default, SM4-GCM as the
    # option a Chinese deployment's crypto assessment expects.
    biometric_cipher: Literal["aes-256-gcm", "sm4-gcm"] = "aes-256-gcm"

    # Certificates
    issuer: str = "guardreg-dev"
    city_code: str = "1201"
    # The URL every certificate, list and page names. Unset, ``guardreg serve`` uses the
    # host and port it actually serves (see api/cli.py); a bare app uses DEFAULT_BASE_URL.
    public_base_url: str | None = None
    certificate_validity_days: int = 365
    signature_algorithm: Literal["ES256", "EdDSA", "SM2SM3"] = "ES256"
    status_list_ttl_s: int = 300
    status_list_max_age_s: int = 24 * 3600
    trust_list_validity_s: int = 7 * 24 * 3600
    clock_skew_s: int = 300
    # A verifier's clock more than this far past the newest signed time it has seen (list
    # iat) is taken as wrong ("clock-wrong"), not as making certificates expire.
    clock_max_ahead_s: int = 30 * 24 * 3600
    # Audit transparency log: a new checkpoint at most every interval (so a client polling
    # the public endpoint cannot make one per request), and one at least every max age
    # even without new events (so witnesses see the log is alive).
    transparency_checkpoint_interval_s: int = Field(default=10, ge=0)
    transparency_checkpoint_max_age_s: int = Field(default=3600, ge=1)

    # Accounts and sessions (registry/accounts.py)
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    signin_max_failures: int = Field(default=5, ge=1, le=100)
    signin_lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    activation_code_hours: int = Field(default=72, ge=1, le=24 * 30)

    # Scheduled jobs (registry/jobs.py): on by default on every serving host.
    jobs_enabled: bool = True

    # Request limits
    max_body_bytes: int = 12 * 1024 * 1024
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 16_000_000
    max_page_size: int = 200
    rate_limit_verify_per_min: int = 6000
    rate_limit_enroll_per_min: int = 600
    rate_limit_complaint_per_min: int = 20     # per client address: filing complaints
    rate_limit_public_per_min: int = 60        # per client address: tracking-code look-ups

    @property
    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_base_url or DEFAULT_BASE_URL).rstrip("/")

    def check_secrets(self) -> None:
        if self.mode == "development" or self.mode == "test":
            return
        for name in ("biometric_secret", "key_passphrase", "apikey_pepper"):
            value: SecretStr = getattr(self, name)
            raw = value.get_secret_value()
            if raw.startswith(PLACEHOLDER_PREFIX) or len(raw) < 32:
                raise SettingsError(
                    f"GUARDREG_{name.upper()} is a placeholder or shorter than 32 characters; "
                    f"set a real secret (mode={self.mode})"
                )

    def derive_key(self, secret_name: str, purpose: str, length: int = 32) -> bytes:
        """A purpose-bound key derived from one of the master secrets."""
        secret: SecretStr = getattr(self, secret_name)
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=length, salt=b"guardreg/v1", info=purpose.encode()
        )
        return hkdf.derive(secret.get_secret_value().encode())

    def derive_key_b64(self, secret_name: str, purpose: str) -> str:
        return base64.b64encode(self.derive_key(secret_name, purpose)).decode()


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
