"""The checkpoint view at arm's length (issue 17) and the card and live face check of
issue 18, in headless Chromium at 360 px and on a desktop: element sizes and texts from
the DOM, verdict colours from the screenshot's pixels, axe-core without serious or
critical violations, Chinese (default) and English values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Person, sign_in
from tests.browser.test_pages import (
    GREEN,
    axe_violations,
    close_to,
    colour_at,
    shot,
    sign_in_scanner,
    wait_verdict,
    watch,
)
from tests.conftest import PEOPLE, Api

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
BLUE, PURPLE = (31, 78, 156), (91, 42, 134)
NO_CAMERA = ("navigator.mediaDevices.getUserMedia = () => "
             "Promise.reject(new DOMException('no camera in this test', 'NotFoundError'));")


@pytest.fixture(scope="module")
def officer(make_person: Any) -> Person:
    return make_person("checkpoint_officer")  # type: ignore[no-any-return]


def page_for(browser: Any, live: str, viewport: dict[str, int], *, who: Person | None,
             locale: str = "en-US", camera: bool = True, lang: str | None = None) -> Any:
    context = browser.new_context(viewport=viewport, locale=locale, base_url=live)
    context.set_default_timeout(30_000)
    if lang:
        context.add_init_script(f"localStorage.setItem('gr.lang', {lang!r})")
    if not camera:
        context.add_init_script(NO_CAMERA)
    page = context.new_page()
    watch(page)
    page.goto("/scan")
    page.wait_for_selector("body[data-ready='1']")
    if who is not None:
        if camera:
            sign_in_scanner(page, who)  # stops the camera, signs in, reloads
        else:
            sign_in(page, who)
            page.reload()
        page.wait_for_selector("body[data-ready='1']")
    return page


def box(page: Any, selector: str) -> dict[str, float]:
    b = page.locator(selector).bounding_box()
    assert b is not None, selector
    return b  # type: ignore[no-any-return]


def number_on_one_line(page: Any) -> None:
    """The certificate number is never broken: one line box, nothing cut off."""
    lines, scroll, client = page.evaluate("""() => {
        const dd = document.querySelector('#verdict-fields dd.num');
        const r = document.createRange(); r.selectNodeContents(dd);
        const tops = new Set([...r.getClientRects()].map((x) => Math.round(x.top)));
        return [tops.size, dd.scrollWidth, dd.clientWidth];
    }""")
    assert lines == 1, f"the number wraps over {lines} lines"
    assert scroll <= client + 1, (scroll, client)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone-360", "desktop"])
def test_online_verdict_at_arms_length(browser: Any, live: str, issued: dict[str, Any],
                                       shots: Path, viewport: dict[str, int], officer: Any) -> None:
    cert = issued["cert"]
    page = page_for(browser, live, viewport, who=officer)
    wait_verdict(page, "valid", "online")  # the fake camera films the certificate's QR
    name = f"checkpoint-valid-{viewport['width']}"
    img = shot(page, shots, name)
    assert close_to(colour_at(img, (2, 2, 12, 12)), GREEN)
    # Colour AND icon AND words.
    assert page.inner_text("#verdict-icon") == "✓"
    assert page.inner_text("#verdict-word") == "VALID"
    assert "checked" in page.inner_text("#verdict-status")
    # The portrait: at least 40% of a 360 px screen.
    photo = box(page, "#verdict-photo")
    assert page.evaluate("document.getElementById('verdict-photo').naturalWidth") > 50
    if viewport is PHONE:
        assert photo["width"] >= 0.40 * 360, photo
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
    else:
        assert photo["width"] >= 200, photo
    number_on_one_line(page)
    assert page.inner_text("#verdict-fields dd.num") == cert["number"]
    text = page.inner_text("#verdict")
    assert "guarding and patrol" in text and "ordinary-patrol" not in text  # translated
    # The live face check is offered, and says it does no liveness detection.
    assert page.locator("#face-take").is_visible()
    assert "No liveness detection" in page.inner_text("#face")
    alt = page.get_attribute("#verdict-photo", "alt")
    assert alt == f"Enrolled portrait of {cert['guard_name']}"
    assert axe_violations(page) == []
    # Chinese: every value in Chinese (the toggle is in the header, under the verdict).
    page.evaluate("document.getElementById('lang').click()")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    zh = page.inner_text("#verdict")
    assert page.inner_text("#verdict-word") == "有效"
    assert "门卫、巡逻" in zh and "级" in zh and "不做活体检测" in zh
    for english in ("VALID", "valid", "ordinary", "level", "Name", "Employer"):
        assert english not in zh, english
    shot(page, shots, name + "-zh")
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()


def test_live_face_check_on_the_page(browser: Any, live: str, issued: dict[str, Any],
                                     shots: Path, officer: Any) -> None:
    page = page_for(browser, live, PHONE, who=officer)
    wait_verdict(page, "valid", "online")
    # The enrolled person (Jiang Zemin 0001 is enrolled) photographed again: the same
    # sitting at another size and crop, as a checkpoint capture of the person would be.
    # (A second press photo of him, 0003, is 0.36 from the template: above the
    # checkpoint's 0.34, the East-Asian 0.1% threshold of issue 18, so "weak, check the
    # ID card"; tests/api/test_face_check.py matches a second photo of another person.)
    page.set_input_files("#face-photo", str(FACES / "Jiang_Zemin_0001.jpg"))
    page.wait_for_selector("#face-result[data-result='match']")
    out = page.inner_text("#face-result")
    assert "FACE MATCHES" in out and "discarded" in out
    assert page.evaluate("document.getElementById('face-photo').value") == ""
    shot(page, shots, "checkpoint-face-match")
    page.set_input_files("#face-photo", str(PEOPLE / "Zhang_Ziyi_0001_x2.jpg"))
    page.wait_for_selector("#face-result[data-result='no-match']")
    assert "FACE DOES NOT MATCH" in page.inner_text("#face-result")
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone-360", "desktop"])
def test_number_lookup_has_its_own_colour_and_words(browser: Any, live: str,
                                                    issued: dict[str, Any], shots: Path,
                                                    viewport: dict[str, int], officer: Any) -> None:
    cert = issued["cert"]
    page = page_for(browser, live, viewport, who=officer, camera=False)
    page.fill("#number", cert["number"])
    page.click("#lookup-form button[type=submit]")
    wait_verdict(page, "valid", "lookup")
    img = shot(page, shots, f"checkpoint-lookup-{viewport['width']}")
    assert close_to(colour_at(img, (2, 2, 12, 12)), PURPLE), colour_at(img, (2, 2, 12, 12))
    assert page.inner_text("#verdict-banner") == "number check only: no QR signature checked"
    assert page.inner_text("#verdict-word") == "NUMBER CHECK ONLY"
    assert page.inner_text("#verdict-icon") == "#"
    assert page.inner_text("#verdict-status") == "Status: valid"
    assert "VALID" not in page.inner_text("#verdict")
    number_on_one_line(page)
    assert page.locator("#face").is_hidden()
    assert axe_violations(page) == []
    page.context.close()


def test_a_printed_card_verifies_as_card_online_and_offline(
        browser: Any, live: str, issued: dict[str, Any], reg: Api, shots: Path,
        officer: Any) -> None:
    guard_id = issued["guard"]["id"]
    made = reg.post(f"/v1/guards/{guard_id}/cards", json={})
    assert made.status_code == 201, made.text
    card = reg.get(f"/v1/certificates/{made.json()['number']}").json()
    page = page_for(browser, live, PHONE, who=officer, camera=False)
    page.fill("#qrtext", card["text"])
    page.click("#text-form button[type=submit]")
    wait_verdict(page, "card", "online")
    img = shot(page, shots, "checkpoint-card-online")
    assert close_to(colour_at(img, (2, 2, 12, 12)), BLUE), colour_at(img, (2, 2, 12, 12))
    assert page.inner_text("#verdict-word") == "CARD: COMPARE THE PHOTO"
    assert page.inner_text("#verdict-icon") == "▣"
    assert "Card no." in page.inner_text("#verdict-fields")
    assert page.inner_text("#verdict-fields dd.num") == card["number"]
    number_on_one_line(page)
    assert box(page, "#verdict-photo")["width"] >= 144
    assert axe_violations(page) == []
    page.context.close()
    # Offline, with no key: verified in the page; no face check, so the note says so and
    # the portrait would be shown large (offline there is none: the ID card instead).
    page = page_for(browser, live, PHONE, who=None, camera=False)
    page.fill("#qrtext", card["text"])
    page.click("#text-form button[type=submit]")
    wait_verdict(page, "card", "offline")
    assert "photo-large" in (page.get_attribute("#verdict", "class") or "")
    assert page.locator("#face-take").is_hidden()
    assert "No face check offline" in page.inner_text("#face")
    assert "ID card" in page.inner_text("#verdict-nophoto")
    # The regulator's policy refuses cards: the page applies it offline too.
    page.evaluate("localStorage.setItem('gr.policy', JSON.stringify({accept_cards: false}))")
    page.click("#next")
    page.fill("#qrtext", card["text"])
    page.click("#text-form button[type=submit]")
    wait_verdict(page, "card-not-accepted", "offline")
    assert page.inner_text("#verdict-word") == "CARD NOT ACCEPTED HERE"
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()
