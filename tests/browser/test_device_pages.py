"""Issue 18 in headless Chromium: the guard page binds the phone (a non-extractable
WebCrypto key) and shows a rotating QR that the service verifies; the scanner page,
filming a rotating QR with the fake camera, verifies it online and offline."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certificates.presentation import DeviceKey
from certificates.qr import qr_version
from tests.api.test_device_binding import _jwk, present
from tests.browser.conftest import CHROMIUM, sign_in, write_y4m
from tests.browser.test_pages import new_page, shot, sign_in_scanner, wait_verdict
from tests.conftest import Api, make_issuable_guard, make_principal


def test_guard_page_binds_the_phone_and_shows_a_rotating_qr_that_verifies(
        browser: Any, live: str, runtime: Any, http: Any, reg: Api,
        issued: dict[str, Any], shots: Path, make_person: Any) -> None:
    import zxingcpp

    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"])
    assert reg.post(f"/v1/guards/{guard['id']}/certificate").status_code == 201
    me = make_principal(runtime, http, "guard", guard_id=guard["id"])
    officer = issued["officer"]
    page = new_page(browser, live)
    page.goto("/guard")
    sign_in(page, make_person("guard", guard=guard))
    page.wait_for_selector("body[data-status='valid'] #cert:not([hidden])")
    assert page.locator("#bind").is_visible()
    page.click("#bind")
    page.wait_for_selector("body[data-live='1']", timeout=30_000)
    version = int(page.get_attribute("#qr", "data-qr-version") or 99)
    assert version <= 20, version
    page.click("#fullscreen")
    page.wait_for_selector("#full:not([hidden])")
    img = shot(page, shots, "guard-rotating-qr")
    decoded = [d.text for d in zxingcpp.read_barcodes(img)]
    assert len(decoded) == 1 and decoded[0].startswith("SGP1:"), decoded
    # The service verifies what the page's own key signed; the static text is a copy.
    body = officer.post("/v1/verifications", json={"text": decoded[0]}).json()
    assert body["verdict"] == "valid", body
    static = me.get("/v1/me/certificate").json()["text"]
    assert officer.post("/v1/verifications", json={"text": static}).json()["verdict"] \
        == "no-device-proof"
    # The private key never left the browser: it is not extractable.
    assert page.evaluate("""async () => {
        const { deviceKey } = await import('/static/lib/device.js');
        const rec = await deviceKey();
        try { await crypto.subtle.exportKey('jwk', rec.privateKey); return 'exported'; }
        catch (e) { return rec.privateKey.extractable ? 'extractable' : 'refused'; } }""") \
        == "refused"
    page.click("#full-close")
    # A checkpoint code is signed into the next code at once.
    page.fill("#challenge-in", "K7Q2")
    page.wait_for_function("document.getElementById('qr').src.length > 100")
    page.click("#fullscreen")
    page.wait_for_timeout(500)
    text = next(d.text for d in zxingcpp.read_barcodes(shot(page, shots, "guard-rotating-code")))
    assert officer.post("/v1/verifications", json={"text": text, "challenge": "K7Q2"}
                        ).json()["verdict"] == "valid"
    assert page.problems == []
    page.context.close()


@pytest.fixture
def live_presentation(runtime: Any, http: Any, reg: Api) -> dict[str, Any]:
    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"])
    assert reg.post(f"/v1/guards/{guard['id']}/certificate").status_code == 201
    me = make_principal(runtime, http, "guard", guard_id=guard["id"])
    phone = ec.generate_private_key(ec.SECP256R1())
    assert me.post("/v1/me/device-key", json=_jwk(phone)).status_code == 200
    cert = me.get("/v1/me/certificate").json()
    return {"text": cert["text"], "phone": phone, "number": cert["number"]}


@pytest.fixture
def camera_browser(browser: Any, live_presentation: dict[str, Any]
                   ) -> Iterator[tuple[Any, str]]:
    """A second Chromium (same Playwright) whose fake camera films a rotating QR made now
    (valid for 45 s)."""
    now = dt.datetime.now(dt.UTC)
    text = present(live_presentation["text"], live_presentation["phone"], now)
    assert qr_version(text) <= 20
    video = Path(tempfile.mkdtemp(prefix="guardreg-cam-")) / "live.y4m"
    write_y4m(video, text, width=800, height=600)
    b = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=[
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    yield b, text
    b.close()


def test_scanner_verifies_a_rotating_qr_online_and_offline(
        camera_browser: tuple[Any, str], live: str, issued: dict[str, Any],
        live_presentation: dict[str, Any], shots: Path, make_person: Any) -> None:
    browser, _ = camera_browser
    page = new_page(browser, live)
    sign_in_scanner(page, make_person("checkpoint_officer"))
    page.wait_for_selector("body[data-ready='1']")
    wait_verdict(page, "valid", "online")
    assert live_presentation["number"] in page.inner_text("#verdict")
    shot(page, shots, "scan-rotating-online")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.context.set_offline(True)
    page.reload()
    wait_verdict(page, "valid", "offline")
    assert float(page.get_attribute("#verdict", "data-ms") or -1) >= 0
    shot(page, shots, "scan-rotating-offline")
    assert DeviceKey.from_public_key(live_presentation["phone"].public_key())
    assert page.problems == []
    page.context.close()
