"""The API documentation page, served with no network beyond this service.

A police intranet has no internet: FastAPI's default ``/docs`` loads Swagger UI from a
CDN and stays blank there. The Swagger UI assets come from the ``swagger-ui-bundle-v2``
package (Swagger UI 5, which renders OpenAPI 3.1) and are served from ``/docs/assets``;
the favicon is the pages' own icon. Every route here is public on purpose.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from registry.errors import NotFound

router = APIRouter(include_in_schema=False, tags=["docs"])

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# Only the files the page needs; nothing else of the bundle is reachable.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}


@lru_cache(maxsize=1)
def _bundle_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(swagger_ui_path)


@lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> bytes:
    return (_bundle_dir() / name).read_bytes()


@router.get("/docs", summary="API documentation (Swagger UI, served locally)")
def docs_page(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/favicon.ico",
    )


@router.get("/docs/assets/{name}", summary="Swagger UI assets")
def docs_asset(name: str) -> Response:
    media = ASSETS.get(name)
    if media is None:
        raise NotFound("no such file")
    return Response(_asset(name), media_type=media,
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/favicon.ico", summary="Site icon")
def favicon() -> Response:
    return Response((STATIC_DIR / "icon.svg").read_bytes(), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})
