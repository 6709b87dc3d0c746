"""The envelope shared by guardreg's signed texts (C2SP signed-note style): a body, a
blank line, then signature lines ``— <name> <base64(kid || signature)>``, each ending
in a newline. Used by the transparency log's checkpoints and the procurement credit
statements; each caller checks its own body and what a signature must look like."""

from __future__ import annotations

from collections.abc import Callable

SIGNATURE_DASH = "\u2014"  # the em dash that starts a signature line


def split(text: str | bytes, *, max_bytes: int, what: str,
          error: Callable[[str], Exception]) -> tuple[str, str, bool]:
    """(body, signature block, whether the blank line was there), after the size and
    UTF-8 checks; ``error(detail)`` makes what is raised."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise error(f"{what} too long")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{what} is not UTF-8") from None
    if len(text) > max_bytes:
        raise error(f"{what} too long")
    body, sep, sigs = text.partition("\n\n")
    return body, sigs, bool(sep)


def signature_lines(sigs: str, *, error: Callable[[str], Exception]) -> list[tuple[str, str]]:
    """(name, base64 payload) of each signature line (the block ends in a newline)."""
    out = []
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != SIGNATURE_DASH:
            raise error("bad signature line")
        out.append((parts[1], parts[2]))
    return out
