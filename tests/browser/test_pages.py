"""End-to-end tests of the web pages in headless Chromium against a live server.

Real data all the way: a guard with a real face and real fingerprints gets a real signed
certificate; the fake camera films its QR code; the scanner decodes it with jsQR and
verifies it online (API) and offline (WebCrypto in the page, cached signed lists).
Screenshots are checked by their pixels (verdict colour, QR decodable) as well as the DOM.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.browser.conftest import FIXTURES, Person, sign_in
from tests.conftest import FINGERS, PEOPLE, Api, random_id_number, texted_code

pytestmark = pytest.mark.browser

AXE = (FIXTURES / "axe.min.js").read_text()
WIDTH, HEIGHT = 360, 740
GREEN, RED, AMBER = (10, 125, 44), (176, 0, 32), (242, 182, 0)


def new_page(browser: Any, base: str) -> Any:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                  locale="en-US", base_url=base)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch(page)
    return page


def watch(page: Any) -> None:
    """Collect uncaught page errors and CSP violations; tests assert the list is empty."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    page.problems = problems


def sign_in_scanner(page: Any, officer: Person) -> None:
    """The officer signs in on the scanner page: the camera is stopped and any verdict
    closed first (it covers the page), then the page reloads with the session."""
    page.goto("/scan")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('camera').dataset.i18n === 'scan.stop'")
    page.evaluate("document.getElementById('camera').click()")
    page.evaluate("document.getElementById('verdict').hidden = true")
    sign_in(page, officer)
    page.reload()


def shot(page: Any, shots: Path, name: str) -> Image.Image:
    data = page.screenshot(path=str(shots / f"{name}.png"))
    return Image.open(io.BytesIO(data)).convert("RGB")


def colour_at(img: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    region = img.crop(box)
    pixels = list(region.getdata())
    n = len(pixels)
    return tuple(sum(p[i] for p in pixels) // n for i in range(3))  # type: ignore[return-value]


def close_to(c: tuple[int, int, int], ref: tuple[int, int, int], tol: int = 30) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(c, ref, strict=True))


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       targets: v.nodes.slice(0, 3).map(n => n.target)}));
    }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def assert_fits_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"horizontal scrolling on a {WIDTH} px screen: {width}px"


def wait_verdict(page: Any, verdict: str, mode: str) -> None:
    page.wait_for_selector(f"#verdict[data-verdict='{verdict}'][data-mode='{mode}']:not([hidden])",
                           timeout=30_000)


# -- headers and serving ----------------------------------------------------------------
def test_the_start_page_links_every_page_and_the_api_docs(http: Any) -> None:
    body = http.get("/").text
    for path in ("/scan", "/guard", "/company", "/dashboard", "/regulator", "/station",
                 "/public", "/docs"):
        assert f'href="{path}"' in body, path
        assert http.get(path).status_code == 200, path



def test_every_page_signed_out_has_no_serious_accessibility_violation(
        browser: Any, live: str) -> None:
    """axe-core on each page as a stranger sees it (signed in, each console's own test
    runs axe on every state it reaches)."""
    page = new_page(browser, live)
    for path in ("/", "/scan", "/guard", "/company", "/dashboard", "/regulator", "/station",
                 "/public"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == [], path
        if path not in ("/", "/public", "/scan"):  # sign-in pages show only the form
            assert page.is_visible("#signin"), path
    assert page.problems == []


def test_pages_are_served_with_security_headers(http: Any, issued: dict[str, Any]) -> None:
    for path in ("/", "/scan", "/guard", "/company", "/dashboard", "/regulator", "/station",
                 "/public"):
        resp = http.get(path)
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith("text/html")
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in resp.text  # no inline scripts
    scan = http.get("/scan").text
    assert "{{TRUST_ANCHORS}}" not in scan
    anchor = scan.split('name="guardreg-trust-anchors" content="')[1].split('"')[0]
    assert anchor and all(len(a) > 80 for a in anchor.split(","))
    sw = http.get("/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/"
    assert "__BUILD_ID__" not in sw.text  # the cache name is stamped with the pages' hash
    assert re.search(r'const CACHE = "guardreg-[0-9a-f]{12}"', sw.text)
    assert http.get("/static/vendor/jsQR.js").headers["content-type"].startswith(
        "text/javascript")
    assert http.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert http.get("/static/../routers/web.py").status_code == 404
    assert http.get("/static/%2e%2e/routers/web.py").status_code == 404
    assert http.get("/static/scan.html").status_code == 404


def test_api_docs_render_their_operations_with_no_network(browser: Any, live: str,
                                                           http: Any) -> None:
    """A police intranet has no internet: /docs must not need a CDN."""
    from urllib.parse import urlsplit

    own = urlsplit(live).netloc
    page = new_page(browser, live)
    outside: list[str] = []

    def only_this_service(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_this_service)
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
    assert any("/v1/verifications" in p for p in paths), paths[:5]
    assert len(paths) >= 50
    assert outside == [], f"/docs asked the network for {outside}"
    icon = http.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
    assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert http.get("/docs/assets/index.html").status_code == 404


# -- guard page --------------------------------------------------------------------------
def test_guard_page_shows_a_scannable_qr_offline_and_the_status(
        browser: Any, live: str, issued: dict[str, Any], reg: Api, shots: Path,
        make_person: Any) -> None:
    import zxingcpp

    cert = issued["cert"]
    page = new_page(browser, live)
    page.goto("/guard")
    sign_in(page, make_person("guard", guard=issued["guard"]))
    page.wait_for_selector("body[data-status='valid'] #cert:not([hidden])")
    text = page.inner_text("main")
    assert cert["number"] in text and cert["guard_name"] in text
    assert "Your certificate is valid." in text
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.click("#fullscreen")
    page.wait_for_selector("#full:not([hidden])")
    img = shot(page, shots, "guard-fullscreen-qr")
    decoded = zxingcpp.read_barcodes(img)
    assert [d.text for d in decoded] == [cert["text"]], "the QR on screen must scan"
    page.click("#full-close")
    with page.expect_download() as dl:
        page.click("#card")
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF"), pdf[:20]

    # Offline after the first visit: the service worker serves the page, the certificate
    # comes from this device's copy.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-note:not([hidden])")
    assert cert["number"] in page.inner_text("#fields")
    page.context.set_offline(False)

    # Suspended: the guard is told, in amber.
    n = cert["number"]
    assert reg.post(f"/v1/certificates/{n}/suspend", json={"reason": "investigation"}
                    ).status_code == 200
    try:
        page.reload()
        page.wait_for_selector("body[data-status='suspended']")
        assert "SUSPENDED" in page.inner_text("#status-banner")
        img = shot(page, shots, "guard-suspended")
        box = page.locator("#status-banner").bounding_box()
        assert close_to(colour_at(img, (int(box["x"]) + 2, int(box["y"]) + 2,
                                        int(box["x"]) + 8, int(box["y"]) + 8)), AMBER)
    finally:
        assert reg.post(f"/v1/certificates/{n}/reinstate").status_code == 200
    assert page.problems == []
    page.context.close()


# -- scanner -----------------------------------------------------------------------------
def test_scanner_offline_verifier_refuses_tampering_and_shows_staleness(
        browser: Any, live: str, issued: dict[str, Any], shots: Path) -> None:
    """Manual text entry, no key (offline verification in the page): two-day-old data is
    amber "stale" with its age shown, a forged signature is red, missing status data is
    amber. Runs before the scanner test revokes the certificate."""
    text = issued["cert"]["text"]
    page = new_page(browser, live)
    page.goto("/scan")
    page.wait_for_selector("body[data-ready='1']")
    # Stop the camera (it films a real certificate) to test manual entry alone.
    page.wait_for_function("() => document.getElementById('camera').dataset.i18n === 'scan.stop'")
    page.evaluate("document.getElementById('camera').click()")  # under the verdict
    page.wait_for_timeout(1000)
    page.evaluate("document.getElementById('verdict').hidden = true")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    # Two days later, still offline: the status list (24 h) is too old: amber, not green.
    page.context.set_offline(True)
    page.clock.set_fixed_time(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    page.fill("#qrtext", text)
    page.click("#text-form button")
    page.wait_for_selector("#verdict[data-verdict='stale']:not([hidden])")
    assert "STALE" in page.inner_text("#verdict-word")
    assert "Status list signed 2 d" in page.inner_text("#verdict-meta")
    img = shot(page, shots, "scan-stale-2-days")
    assert close_to(colour_at(img, (2, 2, 12, 12)), AMBER)
    page.click("#next")
    # Flip one Base45 character in the signature area (the end of the text).
    last = text[-5]
    forged = text[:-5] + ("A" if last != "A" else "B") + text[-4:]
    page.fill("#qrtext", forged)
    page.click("#text-form button")
    page.wait_for_selector("#verdict:not([hidden])")
    assert page.get_attribute("#verdict", "data-verdict") in ("bad-signature", "malformed")
    page.click("#next")
    # Without status data the verdict is amber, never green.
    page.evaluate("localStorage.setItem('gr.status', '{}')")
    page.fill("#qrtext", text)
    page.click("#text-form button")
    page.wait_for_selector("#verdict[data-verdict='stale-status-list']:not([hidden])")
    assert "amber" in page.get_attribute("#verdict", "class")
    img = shot(page, shots, "scan-stale-offline")
    assert close_to(colour_at(img, (2, 2, 12, 12)), AMBER)
    assert axe_violations(page) == []
    page.click("#next")
    # Online, a certificate number can be looked up (public endpoint, no signature).
    page.context.set_offline(False)
    page.fill("#number", issued["cert"]["number"].lower())
    page.click("#lookup-form button")
    page.wait_for_selector("#verdict[data-verdict='valid'][data-mode='lookup']:not([hidden])")
    assert issued["cert"]["guard_name"] in page.inner_text("#verdict")
    page.click("#next")
    page.fill("#number", "120120260000001X")
    page.click("#lookup-form button")
    page.wait_for_selector("#lookup-msg.error")
    assert page.problems == []
    page.context.close()


def test_scanner_valid_offline_and_revoked(browser: Any, live: str, issued: dict[str, Any],
                                           reg: Api, shots: Path, make_person: Any) -> None:
    cert = issued["cert"]
    page = new_page(browser, live)
    sign_in_scanner(page, make_person("checkpoint_officer"))
    page.wait_for_selector("body[data-ready='1']")
    assert_fits_phone(page)
    # Online: the camera sees the QR, the API answers, the enrolled photo is shown.
    wait_verdict(page, "valid", "online")
    text = page.inner_text("#verdict")
    assert "VALID" in text and cert["number"] in text and cert["guard_name"] in text
    assert "guarding and patrol" in text  # permitted services, translated (card18)
    assert page.locator("#verdict-photo").is_visible()
    assert page.evaluate("document.getElementById('verdict-photo').naturalWidth") > 50
    img = shot(page, shots, "scan-valid-online")
    assert close_to(colour_at(img, (2, 2, 12, 12)), GREEN), colour_at(img, (2, 2, 12, 12))
    assert axe_violations(page) == []

    # Offline after this first visit: the page, the trust list and the status list come
    # from this device; WebCrypto verifies the signatures; the data age is shown.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.context.set_offline(True)
    page.reload()
    wait_verdict(page, "valid", "offline")
    meta = page.inner_text("#verdict-meta")
    assert "checked offline" in meta and "Status list signed" in meta and "ago" in meta
    assert "Trust list signed" in page.inner_text("#data-age")
    img = shot(page, shots, "scan-valid-offline")
    assert close_to(colour_at(img, (2, 2, 12, 12)), GREEN)

    # Revoked: online it is red at once.
    page.context.set_offline(False)
    # Not for cause: a revocation for misconduct would clear the guard out (notice §6),
    # and the company page test below needs them still employed.
    resp = reg.post(f"/v1/certificates/{cert['number']}/revoke",
                    json={"reason": "issued-in-error"})
    assert resp.status_code == 200, resp.text
    page.click("#next")
    wait_verdict(page, "revoked", "online")
    assert "REVOKED" in page.inner_text("#verdict")
    img = shot(page, shots, "scan-revoked-online")
    assert close_to(colour_at(img, (2, 2, 12, 12)), RED)

    # ...and offline too, once the device has fetched the new signed status list (the
    # page refreshes its data on every online load, before it starts the camera).
    page.reload()
    wait_verdict(page, "revoked", "online")
    page.context.set_offline(True)
    page.reload()
    wait_verdict(page, "revoked", "offline")
    img = shot(page, shots, "scan-revoked-offline")
    assert close_to(colour_at(img, (2, 2, 12, 12)), RED)
    assert page.problems == []
    page.context.close()


# -- company page ------------------------------------------------------------------------
def test_company_page_enrolls_a_guard_with_a_real_photo(
        browser: Any, live: str, issued: dict[str, Any], shots: Path, make_person: Any,
        runtime: Any) -> None:
    page = new_page(browser, live)
    page.goto("/company")
    sign_in(page, make_person("company_operator", company=issued["company"]))
    page.wait_for_selector(f"li[data-guard-id='{issued['guard']['id']}'] .capture-status.ok")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    name = "王" + secrets.choice("建国海涛丽华")
    phone = f"138{secrets.randbelow(10**8):08d}"
    page.fill("#g-name", name)
    page.fill("#g-id", random_id_number())
    page.fill("#g-phone", phone)
    page.click("#enroll-form button[type=submit]")
    # The person confirms with the code texted to them (issue 14).
    page.wait_for_selector("#g-code-box:not([hidden])")
    page.fill("#g-code", texted_code(runtime, phone))
    page.click("#enroll-form button[type=submit]")
    page.wait_for_selector("#capture:not([hidden])")
    assert name in page.inner_text("#sel-name")
    # A photo without a face is refused, and the page says which check failed.
    blank = io.BytesIO()
    Image.new("RGB", (480, 600), (200, 190, 180)).save(blank, format="JPEG")
    page.set_input_files("#photo", files=[{"name": "wall.jpg", "mimeType": "image/jpeg",
                                           "buffer": blank.getvalue()}])
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#photo-msg.error")
    assert "exactly one face" in page.inner_text("#photo-msg")
    # A real face photo is enrolled (or held, if the 1:N search finds this person).
    page.set_input_files("#photo", str(PEOPLE / "Wen_Jiabao_0001_x2.jpg"))
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#photo-msg.ok, #photo-msg.warn")
    assert any(w in page.inner_text("#photo-msg") for w in ("Enrolled", "Held"))
    page.select_option("#position", "3")
    page.set_input_files("#finger", str(FIXTURES / "107_1.png"))
    page.click("#finger-form button[type=submit]")
    page.wait_for_selector("#finger-msg.ok, #finger-msg.warn")
    page.wait_for_function(
        "() => document.getElementById('sel-status').textContent.includes('right middle finger')")
    shot(page, shots, "company-enrolled")
    # One finger and no background check: the pre-check says why and the request waits.
    page.wait_for_selector("#eligibility[data-eligible='false']")
    reasons = page.inner_text("#eligibility")
    assert "Fewer than two enrolled fingerprints" in reasons
    assert page.is_disabled("#request")
    page.click("#card")  # no certificate yet: the page says why
    page.wait_for_selector("#request-msg.error")
    assert "No certificate yet" in page.inner_text("#request-msg")
    guard_id = page.get_attribute("#capture", "data-guard-id")  # the public id
    status = issued["operator"].get(f"/v1/guards/{guard_id}/biometrics").json()
    assert status["face"] in ("enrolled", "held")
    assert any(f["position"] == 3 for f in status["fingers"])
    assert page.problems == []
    page.context.close()


# -- dashboard ---------------------------------------------------------------------------
def test_dashboard_shows_a_held_duplicate_side_by_side(
        browser: Any, live: str, issued: dict[str, Any], reg: Api, shots: Path,
        make_person: Any) -> None:
    # The same person (another photo of him, another impression of a finger) enrolled as
    # a second guard: held when the finger arrives (a face alone does not hold at city
    # scale, docs/dedup.md).
    company = reg.make_company(district="河西区")
    twin = reg.make_guard(company["id"])
    photo = (PEOPLE / "Jiang_Zemin_0002_x2.jpg").read_bytes()
    resp = reg.post(f"/v1/guards/{twin['id']}/face",
                    files={"photo": ("p.jpg", photo, "image/jpeg")})
    assert resp.status_code in (201, 202), resp.text
    resp = reg.post(f"/v1/guards/{twin['id']}/fingers/2",
                    files={"image": ("f.png", (FINGERS / "101_2.png").read_bytes(), "image/png")})
    assert resp.status_code == 202, resp.text
    review_id = resp.json()["review_id"]

    page = new_page(browser, live)
    page.set_viewport_size({"width": 1000, "height": 900})
    page.goto("/dashboard")
    sign_in(page, make_person("regulator"))
    item = page.locator(f"li[data-review-id='{review_id}']")
    item.wait_for()
    page.wait_for_function(
        f"() => [...document.querySelectorAll(\"li[data-review-id='{review_id}'] img\")]"
        ".filter(i => i.complete && i.naturalWidth > 50).length >= 2")
    text = item.inner_text()
    # The fixture person is enrolled by many tests of the session, so which of those
    # identical earlier enrollments fill the candidate list depends on the order the tests
    # ran: the page shows the review's candidates, whichever they are. Guards are named by
    # public ids; the page shows their first 8 characters.
    review = next(r for r in reg.get("/v1/biometrics/reviews?limit=200").json()["items"]
                  if r["id"] == review_id)
    assert review["candidates"]
    assert all(f"#{c['guard_id'][:8]}" in text for c in review["candidates"])
    assert f"#{twin['id'][:8]}" in text and "score" in text
    page.wait_for_selector("#chart-district svg")
    page.wait_for_selector("#chart-company svg")
    assert "河西区" in page.inner_text("#chart-district")
    recent = reg.get("/v1/stats/recent-revocations?limit=20").json()["items"]
    if recent:
        page.wait_for_selector("#revocations li.rev-" + recent[0]["status"])
        assert recent[0]["number"] in page.inner_text("#revocations")
    shot(page, shots, "dashboard-top")
    item.screenshot(path=str(shots / "dashboard-review.png"))
    assert axe_violations(page) == []
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    assert_fits_phone(page)
    assert axe_violations(page) == []
    shot(page, shots, "dashboard-phone")
    item.locator("button.approve").click()
    page.wait_for_selector(f"li[data-review-id='{review_id}']", state="detached")
    reviews = reg.get("/v1/biometrics/reviews?status=approved&limit=200").json()["items"]
    assert any(r["id"] == review_id for r in reviews)

    # List management: put the twin's company on the abnormal-operations list.
    page.fill("#company-filter", str(company["id"]))
    row = page.locator(f"tr[data-company-id='{company['id']}']")
    row.locator("select").select_option("abnormal")
    row.locator("input").fill("未按规定报送年报")
    row.locator("button.add").click()
    page.wait_for_selector(f"tr[data-company-id='{company['id']}'] td.flags:has-text('abnormal')")
    assert reg.get(f"/v1/companies/{company['id']}").json()["abnormal_operations"] is True
    assert page.problems == []
    page.context.close()


def test_language_toggle_and_chinese_default(browser: Any, live: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                  locale="zh-CN", base_url=live)
    page = context.new_page()
    watch(page)
    page.goto("/company")
    assert page.inner_text("h1") == "保安公司：保安员与采集"
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert axe_violations(page) == []
    shot(page, shots, "company-zh")
    page.click("#lang")
    assert page.inner_text("h1") == "Company: guards and capture"
    assert page.get_attribute("html", "lang") == "en"
    assert page.problems == []
    context.close()
