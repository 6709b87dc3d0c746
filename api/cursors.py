"""Page cursors that do not give the service's row numbers away (issue 14).

A list pages by its rows' sequential ids, but those ids stay inside the service: counting
them would tell how many guards, complaints or bans there are and let a caller walk the
tables. What a caller receives as ``next_cursor`` (and sends back as ``cursor``) is the
last row's position sealed with AES-GCM under a key derived from ``GUARDREG_APIKEY_PEPPER``;
the list's name is the associated data, so a cursor opens only on the list that made it.

The nonce is synthetic (a keyed hash of the list and the position), so one position always
gives one cursor: nothing random to inject, and a nonce repeats only with its plaintext.
A cursor that does not open (malformed, forged, another list's, from before a change of
secret) is an ``invalid-cursor`` problem (422), never a 500.

Routes take ``cursor: Annotated[PageAt, page_cursor("guards")]``, read ``cursor.last`` and
answer ``cursor.next_of(rows, limit)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Query, Request

from api.deps import runtime
from registry.errors import InvalidInput
from registry.queries import page_of
from registry.settings import Settings

NONCE_BYTES = 12
POSITION = struct.Struct(">Q")  # a row id or audit seq: PostgreSQL bigint, never negative
TAG_BYTES = 16
TOKEN_BYTES = NONCE_BYTES + POSITION.size + TAG_BYTES
TOKEN_CHARS = (TOKEN_BYTES * 4 + 2) // 3  # url-safe base64 without padding: 48
_AAD = b"guardreg page cursor v1\x00"
# Longer text is refused before it is read; shorter bad text gets the one invalid-cursor
# problem, whatever is wrong with it.
MAX_PARAM_CHARS = 200


class InvalidCursor(InvalidInput):
    code = "invalid-cursor"
    title = "Invalid page cursor"


class PageCursors:
    """Seals a list's position into a cursor and opens it again."""

    def __init__(self, seal_key: bytes, nonce_key: bytes) -> None:
        if len(seal_key) != 32 or len(nonce_key) != 32 or seal_key == nonce_key:
            raise ValueError("the cursor keys must be two different 32-byte keys")
        self._aead = AESGCM(seal_key)
        self._nonce_key = nonce_key

    @classmethod
    def from_settings(cls, settings: Settings) -> PageCursors:
        return cls(settings.derive_key("apikey_pepper", "page-cursor-seal-v1"),
                   settings.derive_key("apikey_pepper", "page-cursor-nonce-v1"))

    def seal(self, list_name: str, position: int) -> str:
        """The cursor of ``position`` (the last row's id) on ``list_name``."""
        plain = POSITION.pack(position)  # struct.error for a negative or huge one: a bug
        aad = _AAD + list_name.encode()
        nonce = hmac.new(self._nonce_key, aad + b"\x00" + plain,
                         hashlib.sha256).digest()[:NONCE_BYTES]
        token = nonce + self._aead.encrypt(nonce, plain, aad)
        return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")

    def open(self, list_name: str, cursor: str) -> int:
        """The position a cursor of ``list_name`` names; :class:`InvalidCursor` for any
        text that is not such a cursor."""
        if len(cursor) != TOKEN_CHARS:
            raise InvalidCursor("the page cursor is not one this list gave out")
        try:
            token = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                                     validate=True)
        except (binascii.Error, ValueError):
            raise InvalidCursor("the page cursor is not one this list gave out") from None
        if len(token) != TOKEN_BYTES:
            raise InvalidCursor("the page cursor is not one this list gave out")
        nonce, sealed = token[:NONCE_BYTES], token[NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, sealed, _AAD + list_name.encode())
        except InvalidTag:
            raise InvalidCursor("the page cursor is not one this list gave out") from None
        position: int = POSITION.unpack(plain)[0]
        return position


@dataclass(frozen=True)
class PageAt:
    """Where a requested page of one list starts, and how its successor is named."""

    list_name: str
    last: int  # the previous page's last position; 0 for the first page
    codec: PageCursors

    def next_cursor(self, last: int | None) -> str | None:
        """The cursor of the page after the one ending at ``last`` (None: no more)."""
        return None if last is None else self.codec.seal(self.list_name, last)

    def next_of(self, rows: list[dict[str, Any]], limit: int, key: str = "id") -> str | None:
        """The next cursor of a page of ``rows`` asked with ``limit`` (as
        :func:`registry.queries.page_of` decides where it ends)."""
        return self.next_cursor(page_of(rows, limit, key).next_cursor)


def page_cursor(list_name: str, *, param: str = "cursor") -> Any:
    """The dependency that opens the ``param`` query parameter as a cursor of
    ``list_name`` (absent or empty: the first page)."""
    def at(request: Request, token: str | None = None) -> PageAt:
        codec = PageCursors.from_settings(runtime(request).settings)
        return PageAt(list_name, codec.open(list_name, token) if token else 0, codec)
    # The query parameter's name is the caller's: set as an object, since the module's
    # annotations are strings that cannot name this function's arguments.
    at.__annotations__["token"] = Annotated[str | None, Query(
        alias=param, max_length=MAX_PARAM_CHARS,
        description="the previous page's cursor, as given (opaque); absent for the first page")]
    return Depends(at)
