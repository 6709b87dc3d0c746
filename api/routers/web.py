"""The web pages: checkpoint scanner, guard, company and regulator pages, their static
files and the service worker.

The pages are static files built from ``web/`` into ``api/static/`` (committed, so no npm
is needed at run time). Every route here is public (the pages hold no data; they call the
API with the API key the user types in) and hidden from the OpenAPI schema.

The scanner page carries the pinned trust anchor: the DER SubjectPublicKeyInfo of every
usable ``trust-list`` key, base64, in ``<meta name="guardreg-trust-anchors">``. The page
verifies the signed trust list with it, so the anchor arrives with the page from this
origin (and is then kept by the service worker and localStorage for offline use).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import current_time
from registry.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PAGES = ("scan", "guard", "company", "dashboard", "station", "regulator")

router = APIRouter(include_in_schema=False, tags=["web"])

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; "
       "manifest-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".LICENSE": "text/plain; charset=utf-8",
}


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    # Network first in the service worker; browsers revalidate on every load.
    headers["Cache-Control"] = "no-cache"
    if extra:
        headers.update(extra)
    return headers


@lru_cache(maxsize=64)
def _read(path: Path, mtime: float) -> bytes:
    return path.read_bytes()


def _file(relative: str) -> tuple[bytes, str]:
    base = STATIC_DIR.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise NotFound("no such file")
    media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    if media is None:
        raise NotFound("no such file")
    return _read(path, path.stat().st_mtime), media


def trust_anchors(request: Request) -> list[str]:
    """Base64 DER SPKIs of the trust-list keys that can still verify a trust list."""
    rt = request.app.state.runtime
    certs = getattr(rt, "certs", None)
    if certs is None:
        return []
    now = current_time(request)
    keys: Any = certs.keyring.list_keys("trust-list")
    return [base64.b64encode(k.spki).decode() for k in keys
            if (k.verifiable_until is None or k.verifiable_until >= now)
            and k.state != "next" and k.compromised_since is None]


def _page(request: Request, name: str) -> Response:
    body, media = _file(f"{name}.html")
    if b"{{TRUST_ANCHORS}}" in body:
        # base64 characters only: safe inside the attribute.
        body = body.replace(b"{{TRUST_ANCHORS}}", ",".join(trust_anchors(request)).encode())
    return Response(body, media_type=media, headers=_headers())


@router.get("/", summary="Start page: links to the pages and the API documentation")
def index_page(request: Request) -> Response:
    return _page(request, "index")


@router.get("/scan", summary="Checkpoint scanner page")
def scan_page(request: Request) -> Response:
    return _page(request, "scan")


@router.get("/guard", summary="Guard's certificate page")
def guard_page(request: Request) -> Response:
    return _page(request, "guard")


@router.get("/company", summary="Company page")
def company_page(request: Request) -> Response:
    return _page(request, "company")


@router.get("/station", summary="Exam registration point (exam staff)")
def station_page(request: Request) -> Response:
    return _page(request, "station")


@router.get("/public", summary="Public page: complaints, red and black lists, inspections, "
            "online exam application")
def public_page(request: Request) -> Response:
    return _page(request, "public")


@router.get("/dashboard", summary="Regulator dashboard")
def dashboard_page(request: Request) -> Response:
    return _page(request, "dashboard")


@router.get("/regulator", summary="Regulator console (webreg)")
def regulator_page(request: Request) -> Response:
    return _page(request, "regulator")


@lru_cache(maxsize=1)
def build_id() -> str:
    """A hash of every static file but the worker itself: the worker's cache name changes
    whenever the pages change, so phones drop stale copies."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.name != "sw.js":
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@router.get("/sw.js", summary="Service worker (scope /)")
def service_worker() -> Response:
    body, media = _file("sw.js")
    body = body.replace(b"__BUILD_ID__", build_id().encode())
    return Response(body, media_type=media,
                    headers=_headers({"Service-Worker-Allowed": "/"}))


@router.get("/static/{path:path}", summary="Static files of the pages")
def static_file(path: str) -> Response:
    # Only a file's exact name: no trailing slash, empty or dot segments, which the
    # file system would resolve to a page anyway ("scan.html/" is scan.html). Pages are
    # served at their own paths, filled in: their raw template (an empty trust anchor)
    # must never be served, or a scanner could pin it.
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise NotFound("no such file")
    if (STATIC_DIR / path).resolve().suffix == ".html" or path.endswith(".html"):
        raise NotFound("no such file")
    body, media = _file(path)
    return Response(body, media_type=media, headers=_headers())
