"""Temporary overrides of a module's tunable constants (evaluation and tuning only:
process-wide and not thread-safe; ``guardreg eval fingerprint --loso`` uses them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def current(namespace: dict[str, Any], tunable: Sequence[str]) -> dict[str, float]:
    return {k: namespace[k] for k in tunable}


@contextmanager
def override(namespace: dict[str, Any], tunable: Sequence[str],
             overrides: dict[str, float]) -> Iterator[dict[str, float]]:
    unknown = set(overrides) - set(tunable)
    if unknown:
        raise ValueError(f"not tunable: {sorted(unknown)}")
    saved = {k: namespace[k] for k in overrides}
    try:
        for k, v in overrides.items():
            namespace[k] = type(saved[k])(v)
        yield current(namespace, tunable)
    finally:
        namespace.update(saved)
