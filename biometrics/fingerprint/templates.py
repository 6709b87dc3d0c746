"""Finger minutiae records: ISO/IEC 19794-2 and ANSI INCITS 378.

Reads ISO/IEC 19794-2:2005 (version ``" 20"``), ISO/IEC 19794-2:2011 (``"030"`` without a
CBEFF product id), ANSI INCITS 378-2004 (``"020"``), ANSI INCITS 378-2009 (``"030"``) and
378-2009/Amd 1 (``"035"``). Writes every one of them back byte for byte: the header
fields that have no decoded meaning are kept verbatim and the extended data blocks are kept
as raw bytes, so ``encode_template(parse_template(x)) == x`` for every valid record.

All multi-byte integers are big-endian. Anything malformed raises
:class:`biometrics.errors.TemplateRejected` with a ``reason`` extra; nothing else escapes
``parse_template`` for any input bytes.
"""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from biometrics.errors import TemplateRejected

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_VIEWS = 16  # a record carries at most a few fingers; 16 is plenty

FORMAT_ISO_2005 = "ISO19794-2:2005"
FORMAT_ISO_2011 = "ISO19794-2:2011"
FORMAT_ANSI_2004 = "ANSI378-2004"
FORMAT_ANSI_2009 = "ANSI378-2009"
FORMAT_ANSI_2009_AM1 = "ANSI378-2009/Amd1"
FORMATS = (
    FORMAT_ISO_2005,
    FORMAT_ISO_2011,
    FORMAT_ANSI_2004,
    FORMAT_ANSI_2009,
    FORMAT_ANSI_2009_AM1,
)

POSITIONS = (
    "UNKNOWN",
    "RIGHT_THUMB",
    "RIGHT_INDEX",
    "RIGHT_MIDDLE",
    "RIGHT_RING",
    "RIGHT_LITTLE",
    "LEFT_THUMB",
    "LEFT_INDEX",
    "LEFT_MIDDLE",
    "LEFT_RING",
    "LEFT_LITTLE",
)
SCAN_TYPES = {
    0: "LIVE_PLAIN",
    1: "LIVE_ROLLED",
    2: "NONLIVE_PLAIN",
    3: "NONLIVE_ROLLED",
    8: "SWIPE",
    9: "LIVE_CONTACTLESS",
}
SENSOR_TYPES = {0: "UNKNOWN"}
ENDING_TYPES = {0: "VALLEY_SKELETON_BIFURCATION", 1: "RIDGE_SKELETON_END"}
RIDGE_COUNT_METHODS = {0: "NON_SPECIFIC", 1: "QUADRANTS", 2: "OCTANTS"}

EXT_RIDGE_COUNT = 0x0001
EXT_CORE_DELTA = 0x0002


@dataclass(frozen=True)
class Minutia:
    """One minutia as stored: ``kind`` 0 other/either, 1 ending, 2 bifurcation.

    ``angle`` is the raw stored value: units of 360/256 degrees for ISO, 2 degrees for
    ANSI (see :meth:`MinutiaeRecord.angle_unit_degrees`). ``quality`` is 0..100 (0 =
    not reported). Coordinates are pixels, origin top-left, y downwards.
    """

    kind: int
    x: int
    y: int
    angle: int
    quality: int


@dataclass
class ExtendedBlock:
    """One extended data block kept verbatim (``data`` excludes the 4-byte block header)."""

    type_id: int
    data: bytes


@dataclass
class FingerView:
    position: int
    view: int
    impression: int
    quality: int
    minutiae: list[Minutia]
    extended: list[ExtendedBlock] = field(default_factory=list)
    # ANSI 2009 / Amd1 per-view fields
    quality_vendor: int = 0
    quality_algorithm: int = 0
    width: int = 0
    height: int = 0
    resolution_x: int = 0
    resolution_y: int = 0
    # ISO 2011 per-representation fields
    capture_datetime: bytes = b"\xff" * 9
    sensor_type: int = 0
    sensor_vendor: int = 0
    sensor_id: int = 0
    quality_records: list[tuple[int, int, int]] = field(default_factory=list)
    certificates: list[tuple[int, int]] = field(default_factory=list)
    ending_type: int = 0
    minutia_size: int = 6
    # extended data area bytes that are not a whole block (kept for byte round trips)
    extended_trailer: bytes = b""


@dataclass
class MinutiaeRecord:
    """A whole finger minutiae record (general header plus finger views)."""

    format: str
    views: list[FingerView]
    width: int = 0
    height: int = 0
    resolution_x: int = 0
    resolution_y: int = 0
    sensor_id: int = 0
    sensor_compliance: int = 0
    vendor_id: int = 0
    subformat: int = 0
    certification_flag: int = 0
    reserved: int = 0
    long_length: bool = False  # ANSI 2004 written with the 6-byte length form
    # ANSI only: a declared record length that disagrees with the (self-delimiting)
    # structure, kept so the record re-encodes byte for byte (see ``parse_template``).
    declared_length: int | None = None

    @property
    def is_iso(self) -> bool:
        return self.format.startswith("ISO")

    @property
    def angle_unit_degrees(self) -> float:
        return 360.0 / 256.0 if self.is_iso else 2.0

    def view_geometry(self, index: int = 0) -> tuple[int, int, int, int]:
        """``(width, height, resolution_x, resolution_y)`` of a view (pixels, pixels/cm)."""
        v = self.views[index]
        if self.format in (FORMAT_ISO_2005, FORMAT_ANSI_2004):
            return self.width, self.height, self.resolution_x, self.resolution_y
        return v.width, v.height, v.resolution_x, v.resolution_y


def _reject(msg: str, reason: str, **extra: Any) -> TemplateRejected:
    return TemplateRejected(msg, reason=reason, **extra)


class _Reader:
    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise _reject(f"record truncated while reading {what}", "truncated", field=what)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "big")

    @property
    def remaining(self) -> int:
        return self.end - self.pos


def detect_format(data: bytes) -> str:
    """Tell the record format from the header (magic, version, and layout for "030")."""
    if len(data) < 8 or data[:4] != b"FMR\x00":
        raise _reject("not a finger minutiae record (magic 'FMR\\0' missing)", "bad-magic")
    version = data[4:8]
    if version == b" 20\x00":
        return FORMAT_ISO_2005
    if version == b"020\x00":
        return FORMAT_ANSI_2004
    if version == b"035\x00":
        return FORMAT_ANSI_2009_AM1
    if version == b"030\x00":
        # ISO 2011: length(4) + views(2) + cert flag(1) then a 4-byte representation length
        # that must fit. ANSI 2009: length(4) + CBEFF product id(4) + ...
        if len(data) >= 19:
            total = int.from_bytes(data[8:12], "big")
            nviews = int.from_bytes(data[12:14], "big")
            rep_len = int.from_bytes(data[15:19], "big")
            if 1 <= nviews <= MAX_VIEWS and data[14] in (0, 1) and 0 < rep_len <= total - 15:
                return FORMAT_ISO_2011
        return FORMAT_ANSI_2009
    raise _reject(f"unsupported record version {version!r}", "bad-version")


def _read_minutiae(
    r: _Reader, count: int, size: int, width: int, height: int, fmt: str
) -> list[Minutia]:
    if count * size > r.remaining:
        raise _reject(
            f"{count} minutiae do not fit in the record", "count-overflow", count=count
        )
    out: list[Minutia] = []
    for i in range(count):
        raw = r.take(size, "minutia")
        a, b = struct.unpack_from(">HH", raw)
        kind = a >> 14
        x = a & 0x3FFF
        y = b & 0x3FFF
        angle = raw[4]
        quality = raw[5] if size >= 6 else 0
        if kind == 3:
            raise _reject(f"minutia {i} has a reserved type", "bad-minutia-type", index=i)
        if fmt in (FORMAT_ANSI_2009, FORMAT_ANSI_2009_AM1) and angle > 179:
            raise _reject(f"minutia {i} angle {angle} > 179", "bad-angle", index=i)
        if quality > 100 and not (fmt == FORMAT_ISO_2011 and quality in (254, 255)):
            raise _reject(f"minutia {i} quality {quality} > 100", "bad-quality", index=i)
        if (width and x >= width) or (height and y >= height):
            raise _reject(
                f"minutia {i} at ({x},{y}) lies outside the {width}x{height} image",
                "minutia-outside-image",
                index=i,
            )
        out.append(Minutia(kind, x, y, angle, quality))
    return out


def _read_extended(r: _Reader, header_in_length: bool = True) -> tuple[list[ExtendedBlock], bytes]:
    """Read the extended data area. In ISO 2005 records the block length counts the data
    only; in the other versions it includes the 4-byte block header."""
    head = 4 if header_in_length else 0
    total = r.u16("extended data length")
    if total > r.remaining:
        raise _reject("extended data length exceeds the record", "truncated")
    sub = _Reader(r.data, r.pos, r.pos + total)
    r.pos += total
    blocks: list[ExtendedBlock] = []
    while sub.remaining >= 4:
        type_id = sub.u16("extended block type")
        length = sub.u16("extended block length")
        if length < head or length - head > sub.remaining:
            raise _reject("extended data block length is inconsistent", "bad-extended-block")
        blocks.append(ExtendedBlock(type_id, sub.take(length - head, "extended block")))
    trailer = sub.take(sub.remaining, "extended trailer")
    return blocks, trailer


def _check_common(data: bytes) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _reject("template must be bytes", "not-bytes")
    if len(data) > MAX_TEMPLATE_BYTES:
        raise _reject(
            f"template is {len(data)} bytes; the limit is {MAX_TEMPLATE_BYTES}",
            "too-large",
            value=len(data),
            limit=MAX_TEMPLATE_BYTES,
        )


def parse_template(data: bytes) -> MinutiaeRecord:
    """Parse any supported minutiae record; raise ``TemplateRejected`` if it is not valid."""
    _check_common(data)
    data = bytes(data)
    fmt = detect_format(data)
    try:
        if fmt == FORMAT_ISO_2011:
            return _parse_iso2011(data)
        if fmt in (FORMAT_ANSI_2009, FORMAT_ANSI_2009_AM1):
            return _parse_ansi2009(data, fmt)
        return _parse_2005(data, fmt)
    except TemplateRejected:
        raise
    except (ValueError, IndexError, struct.error) as exc:  # defensive: never leak others
        raise _reject("malformed minutiae record", "malformed") from exc


def _check_length(declared: int, data: bytes) -> None:
    if declared != len(data):
        raise _reject(
            f"header declares {declared} bytes but the record has {len(data)}",
            "length-mismatch",
            value=len(data),
            limit=declared,
        )


def _check_views(n: int) -> None:
    if n == 0 or n > MAX_VIEWS:
        raise _reject(f"record declares {n} finger views", "bad-view-count", value=n)


def _parse_2005(data: bytes, fmt: str) -> MinutiaeRecord:
    r = _Reader(data, 8)
    long_length = False
    vendor = subformat = 0
    if fmt == FORMAT_ANSI_2004:
        length = r.u16("record length")
        if length == 0:
            length = r.u32("record length")
            long_length = True
        # Some ANSI 2004 writers (including the published sample) store the length of
        # the equivalent ISO record. The 2004 layout is self-delimiting, so a mismatch is
        # tolerated only if the views then parse to exactly the end of the data.
        if length != len(data) and not (26 <= length <= len(data) + 8):
            _check_length(length, data)
        vendor = r.u16("vendor id")
        subformat = r.u16("subformat")
    else:
        length = r.u32("record length")
        _check_length(length, data)
    equip = r.u16("capture equipment")
    width = r.u16("width")
    height = r.u16("height")
    resx = r.u16("x resolution")
    resy = r.u16("y resolution")
    nviews = r.u8("number of finger views")
    reserved = r.u8("reserved")
    _check_views(nviews)
    views: list[FingerView] = []
    for _ in range(nviews):
        position = r.u8("finger position")
        vi = r.u8("view/impression")
        quality = r.u8("finger quality")
        count = r.u8("minutiae count")
        if position >= len(POSITIONS):
            raise _reject(f"finger position {position} is not defined", "bad-position")
        if quality > 100:
            raise _reject(f"finger quality {quality} > 100", "bad-quality")
        minutiae = _read_minutiae(r, count, 6, width, height, fmt)
        blocks, trailer = _read_extended(r, fmt != FORMAT_ISO_2005)
        views.append(
            FingerView(position, vi >> 4, vi & 0x0F, quality, minutiae, blocks,
                       extended_trailer=trailer)
        )
    if r.remaining:
        raise _reject("bytes left over after the last finger view", "length-mismatch")
    return MinutiaeRecord(
        format=fmt,
        views=views,
        width=width,
        height=height,
        resolution_x=resx,
        resolution_y=resy,
        sensor_id=equip & 0x0FFF,
        sensor_compliance=equip >> 12,
        vendor_id=vendor,
        subformat=subformat,
        reserved=reserved,
        long_length=long_length,
        declared_length=length if fmt == FORMAT_ANSI_2004 and length != len(data) else None,
    )


def _parse_ansi2009(data: bytes, fmt: str) -> MinutiaeRecord:
    r = _Reader(data, 8)
    length = r.u32("record length")
    if length != len(data) and not (26 <= length <= len(data) + 8):
        _check_length(length, data)  # small slips tolerated as for ANSI 2004
    vendor = r.u16("vendor id")
    subformat = r.u16("subformat")
    cert = r.u8("certification flag")
    equip = r.u16("capture equipment")
    nviews = r.u8("number of finger views")
    reserved = r.u8("reserved")
    _check_views(nviews)
    views: list[FingerView] = []
    for _ in range(nviews):
        position = r.u8("finger position")
        view = r.u8("view number")
        impression = r.u8("impression type")
        quality = r.u8("finger quality")
        qvendor = r.u16("quality vendor")
        qalg = r.u16("quality algorithm")
        width = r.u16("width")
        height = r.u16("height")
        resx = r.u16("x resolution")
        resy = r.u16("y resolution")
        count = r.u8("minutiae count")
        if position >= len(POSITIONS):
            raise _reject(f"finger position {position} is not defined", "bad-position")
        if quality > 100 and quality not in (254, 255):
            raise _reject(f"finger quality {quality} > 100", "bad-quality")
        minutiae = _read_minutiae(r, count, 6, width, height, fmt)
        blocks, trailer = _read_extended(r)
        views.append(
            FingerView(position, view, impression, quality, minutiae, blocks,
                       quality_vendor=qvendor, quality_algorithm=qalg, width=width,
                       height=height, resolution_x=resx, resolution_y=resy,
                       extended_trailer=trailer)
        )
    if r.remaining:
        raise _reject("bytes left over after the last finger view", "length-mismatch")
    return MinutiaeRecord(
        format=fmt, views=views, sensor_id=equip & 0x0FFF, sensor_compliance=equip >> 12,
        vendor_id=vendor, subformat=subformat, certification_flag=cert, reserved=reserved,
        declared_length=length if length != len(data) else None,
    )


def _parse_iso2011(data: bytes) -> MinutiaeRecord:
    r = _Reader(data, 8)
    _check_length(r.u32("record length"), data)
    nviews = r.u16("number of representations")
    cert_flag = r.u8("certification flag")
    _check_views(nviews)
    views: list[FingerView] = []
    for _ in range(nviews):
        start = r.pos
        rep_len = r.u32("representation length")
        if rep_len < 4 or start + rep_len > len(data):
            raise _reject("representation length exceeds the record", "length-mismatch")
        rr = _Reader(data, r.pos, start + rep_len)
        dt = rr.take(9, "capture date and time")
        tech = rr.u8("capture device technology")
        svendor = rr.u16("capture device vendor")
        stype = rr.u16("capture device type")
        nq = rr.u8("quality record count")
        qrecs = [
            (rr.u8("quality"), rr.u16("quality vendor"), rr.u16("quality algorithm"))
            for _ in range(nq)
        ]
        certs: list[tuple[int, int]] = []
        if cert_flag:
            ncert = rr.u8("certification count")
            certs = [(rr.u16("certification authority"), rr.u8("scheme")) for _ in range(ncert)]
        position = rr.u8("finger position")
        view = rr.u8("representation number")
        resx = rr.u16("x resolution")
        resy = rr.u16("y resolution")
        impression = rr.u8("impression type")
        width = rr.u16("width")
        height = rr.u16("height")
        sizes = rr.u8("minutia field length / ending type")
        count = rr.u8("minutiae count")
        size = sizes >> 4
        if size not in (5, 6):
            raise _reject(f"minutia field length {size} is not 5 or 6", "bad-minutia-size")
        if position >= len(POSITIONS):
            raise _reject(f"finger position {position} is not defined", "bad-position")
        minutiae = _read_minutiae(rr, count, size, width, height, FORMAT_ISO_2011)
        blocks, trailer = _read_extended(rr)
        if rr.remaining:
            raise _reject("representation length disagrees with its content", "length-mismatch")
        r.pos = rr.pos
        views.append(
            FingerView(position, view, impression, qrecs[0][0] if qrecs else 0, minutiae,
                       blocks, width=width, height=height, resolution_x=resx,
                       resolution_y=resy, capture_datetime=dt, sensor_type=tech,
                       sensor_vendor=svendor, sensor_id=stype, quality_records=qrecs,
                       certificates=certs, ending_type=sizes & 0x0F, minutia_size=size,
                       extended_trailer=trailer)
        )
    if r.remaining:
        raise _reject("bytes left over after the last representation", "length-mismatch")
    return MinutiaeRecord(format=FORMAT_ISO_2011, views=views, certification_flag=cert_flag)


# ----------------------------------------------------------------------------- writing


def _pack_minutiae(view: FingerView, size: int = 6) -> bytes:
    out = bytearray()
    for m in view.minutiae:
        out += struct.pack(">HHB", (m.kind << 14) | m.x, m.y, m.angle)
        if size >= 6:
            out.append(m.quality)
    return bytes(out)


def _pack_extended(view: FingerView, header_in_length: bool = True) -> bytes:
    body = bytearray()
    head = 4 if header_in_length else 0
    for b in view.extended:
        body += struct.pack(">HH", b.type_id, len(b.data) + head) + b.data
    body += view.extended_trailer
    return struct.pack(">H", len(body)) + bytes(body)


def encode_template(record: MinutiaeRecord) -> bytes:
    """Write ``record`` in its own format and version (all five formats are supported)."""
    try:
        if record.format in (FORMAT_ISO_2005, FORMAT_ANSI_2004):
            out = _encode_2005(record)
        elif record.format in (FORMAT_ANSI_2009, FORMAT_ANSI_2009_AM1):
            out = _encode_ansi2009(record)
        elif record.format == FORMAT_ISO_2011:
            out = _encode_iso2011(record)
        else:
            raise _reject(f"unknown format {record.format!r}", "bad-format")
    except (struct.error, ValueError, OverflowError) as exc:
        raise _reject("record has a field out of range", "field-out-of-range") from exc
    if len(out) > MAX_TEMPLATE_BYTES:
        raise _reject("encoded template exceeds the size cap", "too-large", value=len(out))
    return out


def _encode_2005(rec: MinutiaeRecord) -> bytes:
    body = bytearray()
    body += struct.pack(
        ">HHHHHBB",
        (rec.sensor_compliance << 12) | rec.sensor_id,
        rec.width,
        rec.height,
        rec.resolution_x,
        rec.resolution_y,
        len(rec.views),
        rec.reserved,
    )
    for v in rec.views:
        body += struct.pack(">BBBB", v.position, (v.view << 4) | v.impression, v.quality,
                            len(v.minutiae))
        body += _pack_minutiae(v) + _pack_extended(v, rec.format != FORMAT_ISO_2005)
    if rec.format == FORMAT_ISO_2005:
        return b"FMR\x00 20\x00" + struct.pack(">I", len(body) + 12) + bytes(body)
    product = struct.pack(">HH", rec.vendor_id, rec.subformat)
    short_total = 8 + 2 + 4 + len(body)
    if short_total <= 0xFFFF and not rec.long_length:
        declared = rec.declared_length if rec.declared_length is not None else short_total
        return b"FMR\x00020\x00" + struct.pack(">H", declared) + product + bytes(body)
    declared = rec.declared_length if rec.declared_length is not None else short_total + 4
    return b"FMR\x00020\x00" + struct.pack(">HI", 0, declared) + product + bytes(body)


def _encode_ansi2009(rec: MinutiaeRecord) -> bytes:
    body = bytearray()
    body += struct.pack(">HHBHBB", rec.vendor_id, rec.subformat, rec.certification_flag,
                        (rec.sensor_compliance << 12) | rec.sensor_id, len(rec.views),
                        rec.reserved)
    for v in rec.views:
        body += struct.pack(">BBBBHHHHHHB", v.position, v.view, v.impression, v.quality,
                            v.quality_vendor, v.quality_algorithm, v.width, v.height,
                            v.resolution_x, v.resolution_y, len(v.minutiae))
        body += _pack_minutiae(v) + _pack_extended(v)
    version = b"035\x00" if rec.format == FORMAT_ANSI_2009_AM1 else b"030\x00"
    declared = rec.declared_length if rec.declared_length is not None else len(body) + 12
    return b"FMR\x00" + version + struct.pack(">I", declared) + bytes(body)


def _encode_iso2011(rec: MinutiaeRecord) -> bytes:
    body = bytearray()
    for v in rec.views:
        rep = bytearray()
        if len(v.capture_datetime) != 9:
            raise ValueError("capture date and time must be 9 bytes")
        rep += v.capture_datetime
        rep += struct.pack(">BHHB", v.sensor_type, v.sensor_vendor, v.sensor_id,
                           len(v.quality_records))
        for q in v.quality_records:
            rep += struct.pack(">BHH", *q)
        if rec.certification_flag:
            rep += struct.pack(">B", len(v.certificates))
            for c in v.certificates:
                rep += struct.pack(">HB", *c)
        rep += struct.pack(">BBHHBHHBB", v.position, v.view, v.resolution_x, v.resolution_y,
                           v.impression, v.width, v.height,
                           (v.minutia_size << 4) | v.ending_type, len(v.minutiae))
        rep += _pack_minutiae(v, v.minutia_size) + _pack_extended(v)
        body += struct.pack(">I", len(rep) + 4) + rep
    head = struct.pack(">HB", len(rec.views), rec.certification_flag)
    return b"FMR\x00030\x00" + struct.pack(">I", len(body) + 15) + head + bytes(body)


# ----------------------------------------------------------------------------- JSON


def _type_name(kind: int, fmt: str) -> str:
    if kind == 1:
        return "ENDING"
    if kind == 2:
        return "BIFURCATION"
    return "EITHER" if fmt in (FORMAT_ANSI_2009, FORMAT_ANSI_2009_AM1) else "OTHER"


def _counts(view: FingerView) -> dict[str, Any] | None:
    for b in view.extended:
        if b.type_id == EXT_RIDGE_COUNT and b.data:
            edges = [
                {"from": b.data[i], "to": b.data[i + 1], "count": b.data[i + 2]}
                for i in range(1, len(b.data) - 2, 3)
            ]
            return {"type": RIDGE_COUNT_METHODS.get(b.data[0], str(b.data[0])), "edges": edges}
    return None


def _extensions(view: FingerView) -> list[dict[str, Any]]:
    return [
        {"type": b.type_id, "data": base64.b64encode(b.data).decode("ascii")}
        for b in view.extended
        if b.type_id not in (EXT_RIDGE_COUNT, EXT_CORE_DELTA)
    ]


def _minutiae_json(view: FingerView, fmt: str) -> list[dict[str, Any]]:
    return [
        {"type": _type_name(m.kind, fmt), "positionX": m.x, "positionY": m.y,
         "angle": m.angle, "quality": m.quality}
        for m in view.minutiae
    ]


def _datetime_json(dt: bytes) -> dict[str, int] | None:
    if dt == b"\xff" * 9:
        return None
    year, month, day, hour, minute, second, ms = struct.unpack(">HBBBBBH", dt)
    return {"year": year, "month": month, "day": day, "hour": hour, "minute": minute,
            "second": second, "millisecond": ms}


def to_json_dict(record: MinutiaeRecord) -> dict[str, Any]:
    """A JSON-ready description of every field (same field names as the golden vectors)."""
    fmt = record.format
    fps: list[dict[str, Any]] = []
    for v in record.views:
        common_tail: dict[str, Any] = {"counts": _counts(v), "coredelta": None}
        if fmt == FORMAT_ISO_2011:
            d: dict[str, Any] = {
                "datetime": _datetime_json(v.capture_datetime),
                "sensorType": SENSOR_TYPES.get(v.sensor_type, str(v.sensor_type)),
                "sensorVendor": v.sensor_vendor,
                "sensorId": v.sensor_id,
                "qrecords": [{"quality": q, "vendor": qv, "algorithm": qa}
                             for q, qv, qa in v.quality_records],
                "certificates": [{"authority": a, "scheme": s} for a, s in v.certificates],
                "position": POSITIONS[v.position],
                "view": v.view,
                "resolutionX": v.resolution_x,
                "resolutionY": v.resolution_y,
                "scanType": SCAN_TYPES.get(v.impression, str(v.impression)),
                "width": v.width,
                "height": v.height,
                "endingType": ENDING_TYPES.get(v.ending_type, str(v.ending_type)),
                "minutiae": _minutiae_json(v, fmt),
            }
        else:
            d = {
                "position": POSITIONS[v.position],
                "view": v.view,
                "scanType": SCAN_TYPES.get(v.impression, str(v.impression)),
                "quality": v.quality,
            }
            if fmt in (FORMAT_ANSI_2009, FORMAT_ANSI_2009_AM1):
                d.update({"qualityVendorId": v.quality_vendor,
                          "qualityAlgorithmId": v.quality_algorithm, "width": v.width,
                          "height": v.height, "resolutionX": v.resolution_x,
                          "resolutionY": v.resolution_y})
            d["minutiae"] = _minutiae_json(v, fmt)
        d.update(common_tail)
        if record.is_iso:
            d["zones"] = None
        d["extensions"] = _extensions(v)
        fps.append(d)
    out: dict[str, Any] = {}
    if not record.is_iso:
        out.update({"vendorId": record.vendor_id, "subformat": record.subformat})
    if fmt != FORMAT_ISO_2011:
        out.update({"sensorCertified": record.sensor_compliance != 0,
                    "sensorId": record.sensor_id})
    if fmt in (FORMAT_ISO_2005, FORMAT_ANSI_2004):
        out.update({"width": record.width, "height": record.height,
                    "resolutionX": record.resolution_x, "resolutionY": record.resolution_y})
    out["fingerprints"] = fps
    return out


# ----------------------------------------------------------------------------- helpers


def minutiae_array(record: MinutiaeRecord, view: int = 0) -> tuple[Any, float]:
    """Minutiae of one view as an ``(n, 5)`` float array ``x, y, theta, kind, quality``
    with ``theta`` in radians (ISO convention: counter-clockwise, y pointing down), plus
    the horizontal resolution in dots per inch (500 when the record does not say)."""
    import numpy as np

    if not record.views:
        raise _reject("record has no finger view", "bad-view-count")
    if view >= len(record.views):
        raise _reject(f"record has no view {view}", "bad-view-count")
    v = record.views[view]
    unit = math.radians(record.angle_unit_degrees)
    arr = np.array(
        [[m.x, m.y, m.angle * unit, m.kind, m.quality] for m in v.minutiae], dtype=np.float64
    ).reshape(-1, 5)
    _, _, resx, _ = record.view_geometry(view)
    dpi = resx * 2.54 if resx else 500.0
    return arr, dpi


def build_record(
    minutiae: Any,
    *,
    width: int,
    height: int,
    dpi: float = 500.0,
    quality: int = 0,
    fmt: str = FORMAT_ISO_2005,
    position: int = 0,
) -> MinutiaeRecord:
    """Build a single-view record from an ``(n, >=4)`` array ``x, y, theta[rad], kind[, q]``."""
    unit = math.radians(360.0 / 256.0 if fmt.startswith("ISO") else 2.0)
    modulo = 256 if fmt.startswith("ISO") else 180
    res = round(dpi / 2.54)
    mins = []
    for row in list(minutiae)[:255]:
        x = min(max(round(float(row[0])), 0), width - 1)
        y = min(max(round(float(row[1])), 0), height - 1)
        ang = round(float(row[2]) % (2 * math.pi) / unit) % modulo
        q = int(row[4]) if len(row) > 4 else 0
        mins.append(Minutia(int(row[3]), x, y, ang, max(0, min(100, q))))
    view = FingerView(position=position, view=0, impression=0, quality=quality, minutiae=mins,
                      width=width, height=height, resolution_x=res, resolution_y=res)
    if fmt in (FORMAT_ISO_2005, FORMAT_ANSI_2004):
        return MinutiaeRecord(format=fmt, views=[view], width=width, height=height,
                              resolution_x=res, resolution_y=res)
    return MinutiaeRecord(format=fmt, views=[view])
