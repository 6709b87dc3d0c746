"""Fixtures of the browser tests: a live server of the app with the web router, a
headless Chromium with a fake camera that films a real certificate's QR code, and people
with accounts who sign in through the pages' own form.

Signing a person in (any role)::

    def test_something(browser, live, make_person, issued):
        clerk = make_person("company_operator", company=issued["company"])
        page = new_page(browser, live)          # tests/browser/test_pages.py
        page.goto("/company")
        sign_in(page, clerk)                    # the page's form; TOTP for regulators

``make_person(role, company=..., guard=..., one_time=False)`` creates the account through
the registry (registry/accounts.py, as ``guardreg account create`` does) with a known
password; ``one_time=True`` keeps the one-time password, so that the page asks for a new
one. A regulator's TOTP code is computed from the account's secret at sign-in time.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from api.app import create_app
from api.routers import web
from api.sessions import account_keys
from certificates import qr
from registry import accounts
from registry.accounts import totp_at, totp_step
from registry.audit import Actor
from registry.auth import Role
from tests.api.live_server import serve
from tests.conftest import Api, internal_guard_id, make_issuable_guard, make_principal

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


# -- people with accounts -------------------------------------------------------------------
PASSWORD = "browser-test password 7"


@dataclass
class Person:
    """An account of one role, and what its owner knows: username, password, and for a
    regulator the TOTP secret (and the recovery codes)."""

    username: str
    password: str
    role: str
    account_id: int
    company_id: int | None = None
    guard_id: int | None = None
    totp_secret: bytes | None = None
    recovery_codes: tuple[str, ...] = ()
    one_time: bool = False
    last_step: int = field(default=-1, repr=False)

    def totp(self) -> str:
        """A code the server accepts now and has not seen: each code is accepted once,
        with one step of skew, so a second sign-in within 30 s uses the next step (and a
        third waits for the clock)."""
        assert self.totp_secret is not None, f"{self.role} accounts have no second factor"
        while True:
            now = totp_step(dt.datetime.now(dt.UTC))
            step = max(now, self.last_step + 1)
            if step <= now + 1:
                self.last_step = step
                return totp_at(self.totp_secret, step)
            time.sleep(1)


def _id(value: dict[str, Any] | int | str | None) -> Any:
    return value["id"] if isinstance(value, dict) else value


@pytest.fixture(scope="module")
def make_person(runtime: Any) -> Callable[..., Person]:
    """``make_person(role, company=None, guard=None, one_time=False)``: a new account
    (company and guard: a dict with "id" or the id; a guard's public id is looked up)."""

    def make(role: str, *, company: dict[str, Any] | int | None = None,
             guard: dict[str, Any] | int | str | None = None, one_time: bool = False) -> Person:
        username = f"{role[:4]}{secrets.token_hex(4)}"
        with runtime.db.transaction() as cur:
            made = accounts.create_account(
                cur, actor=Actor("test"), now=dt.datetime.now(dt.UTC),
                keys=account_keys(runtime.settings), username=username, role=Role(role),
                company_id=_id(company),
                guard_id=None if guard is None else internal_guard_id(runtime, _id(guard) or 0),
                password=None if one_time else PASSWORD)
        secret = None
        if made.totp_secret:
            b32 = made.totp_secret
            secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
        return Person(made.account.username, made.password, role, made.account.id,
                      made.account.company_id, made.account.guard_id, secret,
                      made.recovery_codes, one_time)

    return make


def sign_in(page: Any, person: Person, *, new_password: str | None = None) -> None:
    """Sign ``person`` in through the page's form (the page must be open). Regulators type
    the TOTP code; a one-time password is then replaced by ``new_password`` (default: a
    fresh one, remembered on the person). Returns once the page shows the person signed
    in (``body[data-auth=in]``)."""
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#su-user", person.username)
    page.fill("#su-pass", person.password)
    if person.totp_secret is not None:
        if page.is_visible("#su-code-show"):
            page.click("#su-code-show")
        page.fill("#su-code", person.totp())
    page.click("#signin button[type=submit]")
    if person.one_time:
        page.wait_for_selector("#pwchange:not([hidden])")
        person.password = new_password or f"{PASSWORD} {secrets.token_hex(3)}"
        page.fill("#pw-new", person.password)
        page.fill("#pw-again", person.password)
        page.click("#pwchange button[type=submit]")
        person.one_time = False
    try:
        page.wait_for_selector("body[data-auth='in']")
    except Exception as exc:  # say what the page said
        raise AssertionError(f"{person.role} {person.username} not signed in: "
                             f"{page.inner_text('#auth')!r}") from exc
