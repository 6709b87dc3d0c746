"""Fixtures of the browser tests: a live server of the app with the web router, a
headless Chromium with a fake camera that films a real certificate's QR code."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from api.app import create_app
from api.routers import web
from certificates import qr
from tests.api.live_server import serve
from tests.conftest import Api, make_issuable_guard, make_principal

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
CHROMIUM = "/usr/bin/chromium"


def write_y4m(path: Path, text: str, *, width: int = 640, height: int = 480,
              frames: int = 4) -> None:
    """A short Y4M (4:2:0) video of the QR code of ``text``, black on white, centred."""
    png = Image.open(io.BytesIO(qr.render_png(text, box_size=5))).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(png, ((width - png.width) // 2, (height - png.height) // 2))
    y = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + y + chroma + chroma)


@pytest.fixture(scope="module")
def shots() -> Path:
    """Screenshots go here (kept after the run for a human to look at)."""
    return Path(tempfile.mkdtemp(prefix="guardreg-screens-"))


@pytest.fixture(scope="module")
def live(runtime: Any) -> Iterator[str]:
    app = create_app(runtime=runtime)  # the real clock: the browser's clock is real too
    if not any(getattr(r, "path", None) == "/scan" for r in app.routes):
        app.include_router(web.router)
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def http(live: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def reg(runtime: Any, http: httpx.Client) -> Api:
    return make_principal(runtime, http, "regulator")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def issued(runtime: Any, http: httpx.Client, reg: Api) -> dict[str, Any]:
    """A company, an operator, an officer, and a guard holding a fresh certificate."""
    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"])
    resp = reg.post(f"/v1/guards/{guard['id']}/certificate")
    assert resp.status_code == 201, resp.text
    return {
        "company": company, "guard": guard, "cert": resp.json(),
        "officer": make_principal(runtime, http, "checkpoint_officer"),  # type: ignore[arg-type]
        "operator": make_principal(runtime, http, "company_operator",  # type: ignore[arg-type]
                                   company_id=company["id"]),
        "guard_api": make_principal(runtime, http, "guard",  # type: ignore[arg-type]
                                    guard_id=guard["id"]),
    }


@pytest.fixture(scope="module")
def browser(issued: dict[str, Any]) -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Debian chromium is not installed: run ./dev test (it installs it) or "
                    "apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    video = Path(tempfile.mkdtemp(prefix="guardreg-cam-")) / "qr.y4m"
    write_y4m(video, issued["cert"]["text"])
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
        yield b
        b.close()
