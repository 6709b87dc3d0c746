"""Encryption at rest for photos and fingerprint templates.

AES-256-GCM by default, SM4-GCM as the option a Chinese deployment's crypto assessment
asks for. The key is derived from ``GUARDREG_BIOMETRIC_SECRET`` and never stored in the
database. Each ciphertext is bound to its record with associated data (subject and
purpose), so a ciphertext copied onto another row does not decrypt.

Format: ``b"GRS1" | cipher id (1 byte) | nonce (12) | ciphertext+tag``.
"""

from __future__ import annotations

import os
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import GuardregError
from registry.settings import Settings

MAGIC = b"GRS1"
_AES, _SM4 = 1, 2


class SealError(GuardregError):
    """A ciphertext failed authentication (wrong key, tampered, or moved to another row)."""

    status = 500
    code = "seal-error"


class Sealer:
    def __init__(self, key: bytes, cipher: Literal["aes-256-gcm", "sm4-gcm"] = "aes-256-gcm"):
        if cipher == "aes-256-gcm":
            if len(key) != 32:
                raise ValueError("AES-256-GCM needs a 32-byte key")
            self._id = _AES
        else:
            self._id = _SM4
        self._key = key
        self._sm4_key = key[:16]

    @classmethod
    def from_settings(cls, settings: Settings) -> Sealer:
        return cls(settings.derive_key("biometric_secret", "biometric-at-rest-v1"),
                   settings.biometric_cipher)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        if self._id == _AES:
            body = AESGCM(self._key).encrypt(nonce, plaintext, aad)
        else:
            enc = Cipher(algorithms.SM4(self._sm4_key), modes.GCM(nonce)).encryptor()
            enc.authenticate_additional_data(aad)
            body = enc.update(plaintext) + enc.finalize() + enc.tag
        return MAGIC + bytes([self._id]) + nonce + body

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        if len(sealed) < 4 + 1 + 12 + 16 or not sealed.startswith(MAGIC):
            raise SealError("not a sealed biometric record")
        cipher_id, nonce, body = sealed[4], sealed[5:17], sealed[17:]
        try:
            if cipher_id == _AES:
                return AESGCM(self._key).decrypt(nonce, body, aad)
            if cipher_id == _SM4:
                mode = modes.GCM(nonce, body[-16:])
                dec = Cipher(algorithms.SM4(self._sm4_key), mode).decryptor()
                dec.authenticate_additional_data(aad)
                return dec.update(body[:-16]) + dec.finalize()
        except InvalidTag as exc:
            raise SealError("biometric record failed authentication") from exc
        raise SealError("unknown cipher in sealed record")
