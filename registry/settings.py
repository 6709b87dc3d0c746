"""The one typed settings object, read from the environment (prefix ``GUARDREG_``).

``DATABASE_URL`` is read without prefix, as is customary. In development mode
(the default) placeholder secrets are accepted so a newcomer can start the service
with no set-up; any other mode refuses to start with them.
"""

from __future__ import annotations

import base64
import functools
import math
from collections import Counter
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_PREFIX = "dev-only-"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 90.0
MAX_REPEAT = 8


def _shannon_bits(text: str) -> float:
    """Characters x the Shannon entropy of the text's own character frequencies: an
    optimistic estimate for a chosen string, a fair one for a random string."""
    counts = Counter(text)
    n = len(text)
    return -n * sum(c / n * math.log2(c / n) for c in counts.values())


def secret_problem(raw: str) -> str | None:
    """Why ``raw`` is not acceptable as a production secret, or None.

    The rule (docs/SECURITY.md): not a ``dev-only-`` placeholder; at least 32
    characters; at least 90 bits by the Shannon estimate of its characters (32 random hex
    characters, 128 bits, estimate 93 or more in 200,000 draws; ``"a" * 32`` estimates 0,
    ``"abcd" * 8`` 64); and no run of 8 characters that appears twice (a repeated
    word or block). A random 32-byte token in hex or base64 always passes."""
    if raw.startswith(PLACEHOLDER_PREFIX):
        return "is the development placeholder"
    if len(raw) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters"
    bits = _shannon_bits(raw)
    if bits < MIN_SECRET_BITS:
        return (f"has too little entropy (about {bits:.0f} bits by its character "
                f"frequencies; at least {MIN_SECRET_BITS:.0f} needed)")
    seen: set[str] = set()
    for i in range(len(raw) - MAX_REPEAT + 1):
        piece = raw[i:i + MAX_REPEAT]
        if piece in seen:
            return f"repeats a block of {MAX_REPEAT} or more characters"
        seen.add(piece)
    return None


class SettingsError(RuntimeError):
    """The settings cannot be used (placeholder secret in production, bad value)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDREG_", extra="ignore")

    mode: Literal["development", "production", "test"] = "development"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GUARDREG_DATABASE_URL")
    )
    # Read replicas (docs/DEPLOYMENT.md, api/replicas.py): one or more streaming standbys,
    # comma-separated. Online verification reads from them while they hold a read lease;
    # everything else (and enrollment searches) stays on the primary.
    database_read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_READ_URL", "GUARDREG_DATABASE_READ_URL"))
    # A replica serves reads only under a lease the primary renews while it applies WAL
    # within ``replica_max_lag_s``; a replica that stops is dropped from the synchronous
    # set one lease (plus one lease of margin) after its last renewal.
    replica_lease_s: float = Field(default=2.0, gt=0, le=60)
    replica_max_lag_s: float = Field(default=1.0, gt=0, le=60)
    # Whether this host may run the steward that grants leases and edits the primary's
    # synchronous_standby_names (one host at a time does; it needs that privilege).
    replica_steward: bool = True
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
    # Personal fields at rest (ID number, phone) and the ID number's blind index
    # (registry/pii.py). Changing it makes existing rows unreadable: see OPERATIONS.md.
    pii_secret: SecretStr = SecretStr(PLACEHOLDER_PREFIX + "pii-secret-change-me")
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
    # The printed card: "id1" (85.6 x 54 mm, a bank card's size) or "a6" (enlarged on A6).
    card_format: Literal["id1", "a6"] = "id1"
    # Regulator policy: do checkpoints accept a printed card (its own credential, number
    # suffix -C<n>) as "card: compare the photo"? Off: cards get "card-not-accepted" (API,
    # CLI offline, and the scanner page, which reads it from /v1/verifier-policy).
    checkpoint_accept_cards: bool = True
    # The live face check at the checkpoint (POST /v1/verifications/face-check): at most
    # this many checks per officer per minute.
    face_check_per_minute: int = Field(default=30, ge=1)
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

    # Retention (docs/LIFECYCLE.md): a person with no employment and no valid certificate
    # for this many years has the personal fields of every table purged by the job
    # `registry.retention`, at most `retention_batch` people per run.
    retention_years: int = Field(default=3, ge=1, le=50)
    retention_batch: int = Field(default=200, ge=1, le=10_000)

    # Duplicate check (docs/dedup.md): hold when the fused score's false positive
    # identification rate against a gallery of this many identities is at most the target;
    # candidates under an industry ban are held at the more sensitive target.
    dedup_fpir: float = Field(default=0.01, gt=0.0, lt=1.0)
    dedup_fpir_banned: float = Field(default=0.1, gt=0.0, lt=1.0)
    # Exam attendance (issue 15): the live face + one finger are admitted when their fused
    # LLR reaches the impostor-distribution threshold at this false match rate (1:1).
    exam_attendance_fmr: float = Field(default=1e-4, gt=0.0, lt=0.1)
    dedup_gallery_size: int = Field(default=500_000, ge=1, le=1_000_000_000)

    # Request limits
    max_body_bytes: int = 12 * 1024 * 1024
    max_json_body_bytes: int = 1024 * 1024  # parsed on the event loop: keep it small
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 16_000_000
    # A fingerprint is about 1 x 1.5 inch: 2 MP holds one at 1000 dpi. Extraction costs
    # grow with the pixels (a 4000x4000 mosaic cost 32 CPU-seconds before this limit).
    max_finger_image_pixels: int = 2_000_000
    # Image work (QR decoding, face analysis, fingerprint extraction) runs in worker
    # processes; a task that spends more CPU time than this is killed (422).
    image_cpu_budget_s: float = Field(default=2.0, gt=0, le=60)
    image_workers: int = Field(default=2, ge=1, le=64)
    max_page_size: int = 200
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)  # stored responses expire
    rate_limit_verify_per_min: int = 6000
    rate_limit_enroll_per_min: int = 600
    rate_limit_complaint_per_min: int = 20     # per client address: filing complaints
    rate_limit_public_per_min: int = 60        # per client address: tracking-code look-ups
    rate_limit_verify_image_per_min: int = 120  # photos of QR codes: image work per call
    # 1:1 biometric checks (face and finger verify share one bucket) per principal: an
    # officer compares a person with the card in front of them, a few a minute; a key
    # that compares one photo with guard after guard is identifying by enumeration.
    rate_limit_biometric_verify_per_min: int = Field(default=30, ge=1)
    # Public certificate-number check, per client address: numbers are sequential, so
    # without a limit anyone could harvest every card's name, employer and status.
    rate_limit_public_certificate_per_min: int = Field(default=30, ge=1)
    # A checkpoint officer's look-ups of a holder's permitted services by certificate
    # number, per principal (numbers are sequential: this bounds harvesting eligibility).
    rate_limit_officer_lookup_per_min: int = Field(default=60, ge=1)
    # A company operator's enrollment is confirmed by the person with a one-time code sent
    # by text message (registry/enroll_consent.py, issue 14): its lifetime, the wrong codes
    # that wear it out, codes per hour per (ID number, company) and per company (429 past
    # them), and codes per hour to one ID number from all companies (past it, nothing more
    # is sent, silently).
    enroll_code_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    enroll_code_max_attempts: int = Field(default=5, ge=1, le=20)
    enroll_code_per_id_number_per_hour: int = Field(default=3, ge=1)
    enroll_code_per_company_per_hour: int = Field(default=300, ge=1)
    enroll_code_sms_per_id_number_per_hour: int = Field(default=6, ge=1)
    # The SMS gateway (a peer outside the system) the job `registry.sms-outbox` posts
    # queued messages to (api/sms.py). Unset in development: `guardreg outbox list` shows
    # the pending messages to the operator instead.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    # The telecom real-name check (a peer outside the system, api/phone_owner.py): does
    # this phone belong to the holder of this ID number and name? A text message goes to
    # a phone the registry did not already have on record for the person only when it
    # says yes (issue 14: the SMS side channel). Required in production; unset in
    # development and test, typed phones are trusted (with a warning at start-up).
    phone_owner_check_url: str | None = None
    phone_owner_check_token: SecretStr | None = None
    phone_owner_check_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Where the limits count (api/rate_limits.py): "database" (shared by every process
    # and host) or "process" (each process on its own: a single-process deployment, and
    # the baseline of bench/bench_replicas.py).
    rate_limit_store: Literal["database", "process"] = "database"

    @property
    def read_urls(self) -> list[str]:
        """The replicas' addresses from ``DATABASE_READ_URL`` (none: read the primary)."""
        return [u.strip() for u in (self.database_read_url or "").split(",") if u.strip()]

    @property
    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_base_url or DEFAULT_BASE_URL).rstrip("/")

    def check_secrets(self) -> None:
        """Outside development and test: every master secret must pass
        :func:`secret_problem`, and the database must be a real server
        (``DATABASE_URL``), never the embedded one (trust authentication, data in a local
        directory). Raises :class:`SettingsError` naming what to fix, never the value."""
        if self.mode == "development" or self.mode == "test":
            return
        for name in ("biometric_secret", "key_passphrase", "apikey_pepper", "pii_secret"):
            value: SecretStr = getattr(self, name)
            problem = secret_problem(value.get_secret_value())
            if problem:
                raise SettingsError(
                    f"GUARDREG_{name.upper()} {problem}; set a random secret, e.g. the "
                    f"output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                    f" (mode={self.mode})"
                )
        if not self.database_url:
            raise SettingsError(
                f"DATABASE_URL is not set: mode={self.mode} does not start the embedded "
                "PostgreSQL (it trusts every local connection and keeps the data in "
                f"{self.data_dir}); point DATABASE_URL at a PostgreSQL server with pgvector"
            )

    def check_peers(self) -> str | None:
        """The phone-ownership check (``GUARDREG_PHONE_OWNER_CHECK_URL``): outside
        development and test the service refuses to start without it (:class:`SettingsError`),
        since a code texted to a phone the company or an applicant typed would tell them
        whether the registry knows an ID number. In development and test, the one-line
        warning to log at start-up (typed phones are trusted), else None."""
        if self.phone_owner_check_url:
            return None
        if self.mode == "development" or self.mode == "test":
            return ("GUARDREG_PHONE_OWNER_CHECK_URL is not set: text messages to typed phones "
                    f"are sent unchecked (mode={self.mode}; production refuses to start)")
        raise SettingsError(
            f"GUARDREG_PHONE_OWNER_CHECK_URL is not set: mode={self.mode} texts a phone the "
            "registry did not have on record only once the telecom real-name check confirms "
            "it belongs to the person; point it at that service (docs/OPERATIONS.md)")

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
