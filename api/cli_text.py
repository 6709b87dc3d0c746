"""Plain-text tables that line up with Chinese text in a terminal.

A CJK character takes two terminal columns; ``str.ljust`` counts it as one, so columns
after a Chinese name drift. Widths here follow Unicode's East Asian Width property.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(text: str) -> int:
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns (an ellipsis marks the cut)."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
          right: Sequence[bool] | None = None, max_width: int = 24) -> str:
    """Columns sized to their widest cell (text columns clipped at ``max_width``)."""
    right = list(right) if right is not None else [False] * len(headers)
    cells = [[clip(str(c), max_width) for c in row] for row in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    lines = [" ".join(pad(h, widths[i], right=right[i]) for i, h in enumerate(headers))]
    lines += [" ".join(pad(c, widths[i], right=right[i]) for i, c in enumerate(row))
              for row in cells]
    return "\n".join(line.rstrip() for line in lines)
