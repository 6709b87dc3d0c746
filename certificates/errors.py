"""Errors of the ``certificates`` package.

Everything a verifier can say about a bad credential is a :class:`VerificationError`
with a machine-readable :class:`Reason` (closed enum) and, for ``malformed``, a
:class:`Malformed` sub-detail naming the layer that failed. Low-level codecs raise
:class:`DecodeError` (also carrying the layer); the verifier turns it into
``VerificationError(Reason.MALFORMED, ...)``.
"""

from __future__ import annotations

from enum import StrEnum

from registry.errors import GuardregError, InvalidInput


class Reason(StrEnum):
    """Why a credential was refused. ``valid`` is never raised: it is the return value."""

    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    MALFORMED = "malformed"
    ALGORITHM_MISMATCH = "algorithm-mismatch"
    STALE_TRUST_LIST = "stale-trust-list"
    STALE_STATUS_LIST = "stale-status-list"
    OVERSIZED = "oversized"
    KEY_COMPROMISED = "key-compromised"
    STATUS_MISMATCH = "status-mismatch"
    WRONG_ISSUER = "wrong-issuer"
    ROLLBACK = "rollback"
    CLOCK_WRONG = "clock-wrong"
    # Device binding (certificates/presentation.py)
    NO_DEVICE_PROOF = "no-device-proof"
    PROOF_EXPIRED = "proof-expired"
    DEVICE_MISMATCH = "device-mismatch"
    CHALLENGE_MISMATCH = "challenge-mismatch"
    # The printed card (its own credential): refused where the checkpoint policy does
    # not accept cards (VerificationPolicy.accept_cards, setting checkpoint_accept_cards).
    CARD_NOT_ACCEPTED = "card-not-accepted"


class Malformed(StrEnum):
    """Which layer of ``PREFIX:Base45(zlib?(COSE_Sign1(CWT)))`` could not be parsed."""

    PREFIX = "prefix"
    BASE45 = "base45"
    COMPRESSION = "compression"
    CBOR = "cbor"
    COSE = "cose"
    CLAIMS = "claims"


class CertificateError(GuardregError):
    """Base of every error raised by ``certificates`` (operational, not verdicts)."""

    code = "certificate-error"
    title = "Certificate error"


class DecodeError(CertificateError, InvalidInput):
    """A codec (Base45, zlib, CBOR, COSE, CWT) refused its input."""

    code = "malformed"
    title = "Malformed data"

    def __init__(self, stage: Malformed, detail: str = "") -> None:
        super().__init__(detail or f"malformed {stage.value}")
        self.stage = stage


class AlgorithmMismatch(CertificateError, InvalidInput):
    """The COSE ``alg`` does not fit the key (type, curve) or is not supported."""

    code = "algorithm-mismatch"
    title = "Algorithm does not match key"


class BadSignature(CertificateError, InvalidInput):
    """The signature does not verify with the given key."""

    code = "bad-signature"
    title = "Bad signature"


class KeyringError(CertificateError):
    """The keyring is unusable: missing key, wrong passphrase, key/metadata mismatch."""

    code = "keyring-error"
    title = "Keyring error"


class QrError(CertificateError, InvalidInput):
    """No QR code could be rendered or read."""

    code = "qr-unreadable"
    title = "QR code unreadable"


class StatusListFull(CertificateError):
    """No free index is left in the status list (shard) asked for."""

    code = "status-list-full"
    title = "Status list full"


class VerificationError(InvalidInput):
    """A credential (or trust/status data) was refused.

    ``reason`` is the closed-enum verdict; ``malformed`` names the failing layer when
    ``reason`` is ``Reason.MALFORMED``. ``detail`` is for people and carries no secrets.
    """

    code = "verification-failed"
    title = "Verification failed"

    def __init__(self, reason: Reason, detail: str = "", *, malformed: Malformed | None = None):
        text = detail or reason.value
        if malformed is not None:
            text = f"{malformed.value}: {text}"
        super().__init__(text, reason=reason.value)
        self.reason = reason
        self.malformed = malformed

    def __repr__(self) -> str:
        sub = f", malformed={self.malformed.value}" if self.malformed else ""
        return f"VerificationError({self.reason.value}{sub}, {self.detail!r})"
