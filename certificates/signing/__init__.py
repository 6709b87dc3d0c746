"""Key management and signing: the only place that loads private keys."""

from certificates.fileio import atomic_write
from certificates.signing.keyring import (
    PURPOSES,
    KeyRecord,
    Keyring,
    default_keyring,
    generate,
    list_keys,
    retire,
    rotate,
)
from certificates.signing.signer import Signer, Sm2SoftwareSigner, SoftwareSigner

__all__ = [
    "PURPOSES",
    "KeyRecord",
    "Keyring",
    "Signer",
    "Sm2SoftwareSigner",
    "SoftwareSigner",
    "atomic_write",
    "default_keyring",
    "generate",
    "list_keys",
    "retire",
    "rotate",
]
