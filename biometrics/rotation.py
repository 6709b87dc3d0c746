"""Rotating the biometric secret: every sealed photo, portrait and fingerprint template
is decrypted with the old keys and sealed again with the new ones, and every face
vector is moved from the old secret transform to the new one (distances unchanged).

Run with the service stopped (its processes hold the old keys): ``guardreg biometrics
rotate-secret`` (docs/OPERATIONS.md). Each batch is one transaction and the work
resumes where it stopped: faces are selected by their transform key id, finger
templates that already open under the new key are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometrics import repository
from biometrics.enrollment import PURGED_PHOTO, display_aad, open_photo, photo_aad, photo_purged
from biometrics.face.protection import FaceVectorKey
from biometrics.finger_search import finger_aad
from biometrics.sealing import Sealer, SealError
from registry.db import Cursor
from registry.errors import Conflict


@dataclass(frozen=True)
class BiometricKeys:
    sealer: Sealer
    vectors: FaceVectorKey


def rotate_faces(cur: Cursor, *, old: BiometricKeys, new: BiometricKeys, limit: int) -> int:
    """Move up to ``limit`` faces to the new keys; returns how many were moved."""
    rows = repository.faces_not_under_transform(cur, transform_kid=new.vectors.key_id,
                                                limit=limit)
    for row in rows:
        subject = row["subject"]
        if row["transform_kid"] != old.vectors.key_id:
            raise Conflict(f"face {subject} is protected by key {row['transform_kid']}, "
                           "neither the old nor the new one", code="unknown-biometric-key")
        # A face kept after retention (docs/LIFECYCLE.md) has its photo purged: b"".
        photo = (b"" if photo_purged(row["photo_sealed"]) else
                 open_photo(row["photo_sealed"], subject=subject, sealer=old.sealer))
        display = (None if row["display_sealed"] is None else
                   open_photo(row["display_sealed"], subject=subject, sealer=old.sealer,
                              display=True))
        raw = old.vectors.unprotect(repository.parse_vector(row["embedding"]))
        repository.replace_face_sealing(
            cur, subject, photo_sealed=(new.sealer.seal(photo, aad=photo_aad(subject))
                                        if photo else PURGED_PHOTO),
            display_sealed=(None if display is None
                            else new.sealer.seal(display, aad=display_aad(subject))),
            embedding=new.vectors.protect(np.asarray(raw, dtype=np.float64)),
            transform_kid=new.vectors.key_id)
    return len(rows)


def rotate_fingers(cur: Cursor, *, old: Sealer, new: Sealer, after: tuple[str, int] | None,
                   limit: int) -> tuple[int, tuple[str, int] | None]:
    """Re-seal the next ``limit`` finger templates after ``after``; returns how many
    were re-sealed and where to continue (None when done)."""
    rows = repository.fingers_after(cur, after=after, limit=limit)
    moved = 0
    for row in rows:
        subject, position = row["subject"], int(row["position"])
        sealed, aad = bytes(row["template_sealed"]), finger_aad(subject, position)
        try:
            new.open(sealed, aad=aad)
            continue  # already under the new key (an earlier, interrupted run)
        except SealError:
            record = old.open(sealed, aad=aad)
        repository.replace_finger_sealing(cur, subject, position, new.seal(record, aad=aad))
        moved += 1
    last = (rows[-1]["subject"], int(rows[-1]["position"])) if len(rows) == limit else None
    return moved, last
