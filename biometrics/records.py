"""Typed records of the biometrics package that other packages read (issue 19)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FINGERS_NEEDED = 2
"""Enrolled fingers a certificate needs (with an enrolled face)."""


@dataclass(frozen=True)
class CaptureStatus:
    """What is captured of a person: the face's capture status (``enrolled``, ``held``
    for review, ``rejected``; ``None`` when no photo was taken) and the fingers."""

    face: str | None
    fingers_enrolled: int
    fingers_total: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CaptureStatus:
        return cls(face=row["face"], fingers_enrolled=int(row["fingers_enrolled"]),
                   fingers_total=int(row["fingers_total"]))

    @property
    def face_enrolled(self) -> bool:
        return self.face == "enrolled"

    @property
    def complete(self) -> bool:
        """Enough for a certificate: an enrolled face and two enrolled fingers."""
        return self.face_enrolled and self.fingers_enrolled >= FINGERS_NEEDED
