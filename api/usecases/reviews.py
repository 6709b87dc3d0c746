"""The regulator's one review queue: biometric duplicate holds beside registry enrollment
holds. Each package still owns and decides its own holds; reading both at once spans
packages, so the queue lives in the composition root."""

from __future__ import annotations

from typing import Any

from api import reviews_repository
from registry.db import Cursor


def review_queue(cur: Cursor, *, status: str, limit: int) -> list[dict[str, Any]]:
    """Holds of ``status`` of either kind, oldest first."""
    return reviews_repository.review_queue(cur, status=status, limit=limit)
