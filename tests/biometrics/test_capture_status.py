"""The capture status other packages read is a typed record (issue 19)."""

from __future__ import annotations

import dataclasses

import pytest

from biometrics.records import CaptureStatus


@pytest.mark.parametrize(("face", "fingers", "complete"), [
    ("enrolled", 2, True), ("enrolled", 3, True), ("enrolled", 1, False),
    ("held", 2, False), ("rejected", 2, False), (None, 2, False), (None, 0, False)])
def test_complete_needs_an_enrolled_face_and_two_fingers(face: str | None, fingers: int,
                                                        complete: bool) -> None:
    status = CaptureStatus.from_row({"face": face, "fingers_enrolled": fingers,
                                     "fingers_total": fingers + 1})
    assert status.complete is complete
    assert status.face_enrolled is (face == "enrolled")
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.face = "enrolled"  # type: ignore[misc]
