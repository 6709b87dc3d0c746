"""Line-numbered CSV parsing with limits, shared by the bulk importers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Request, UploadFile

from registry.errors import InvalidInput, PayloadTooLarge

MAX_ROWS = 100_000
MAX_CSV_BYTES = 8 * 1024 * 1024
MAX_FIELD = 1000


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the CSV is neither UTF-8 nor GB18030 text", reason="encoding")


def rows(data: bytes, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
         ) -> Iterator[CsvRow]:
    """Yield rows as dicts with their 1-based line numbers; header errors raise at once."""
    text = decode(data)
    if "\x00" in text:
        raise InvalidInput("the CSV contains NUL bytes", reason="binary")
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("the CSV is empty", reason="empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}", reason="malformed", line=1) from None
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required and c not in optional]
    if missing or unknown or len(set(header)) != len(header):
        raise InvalidInput(
            "line 1: the header must hold " + ", ".join(required)
            + (f" (optional: {', '.join(optional)})" if optional else "")
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else ""),
            reason="header", line=1)
    count = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"line {reader.line_num}: {exc}", reason="malformed",
                               line=reader.line_num) from None
        count += 1
        if count > MAX_ROWS:
            raise PayloadTooLarge(f"more than {MAX_ROWS} rows", reason="too-many-rows")
        if not values or all(not v.strip() for v in values):
            continue
        yield CsvRow(reader.line_num, dict(zip(header, (v.strip() for v in values),
                                               strict=False))
                     | ({"__width__": str(len(values))} if len(values) != len(header) else {}))


async def read_body(request: Request, file: UploadFile | None) -> bytes:
    """The CSV of a bulk import: a file field, or the body itself (text/csv); bounded."""
    if file is not None:
        data: bytes = await file.read(MAX_CSV_BYTES + 1)
    elif request.headers.get("content-type", "").lower().startswith("multipart/"):
        # FastAPI has read the form already; it held no "file" part.
        raise InvalidInput("the multipart body has no 'file' part", reason="empty")
    else:
        data = await request.body()
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"the CSV is over {MAX_CSV_BYTES} bytes", reason="too-large")
    if not data:
        raise InvalidInput("send the CSV as the body (text/csv) or as a file field",
                           reason="empty")
    return data
