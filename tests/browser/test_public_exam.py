"""The public page's online exam application in headless Chromium (notice §4, issue 14):
pick a session from the public schedule, apply with ID number, name and phone, confirm with
the texted code; a wrong code reads the same as no code, the right one shows the
registration code once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from registry import exams
from tests.browser.test_pages import assert_fits_phone, axe_violations, new_page, shot
from tests.conftest import make_principal, random_id_number, texted_code


def test_a_person_applies_for_the_exam_on_the_public_page(
        browser: Any, live: str, runtime: Any, http: Any, shots: Path) -> None:
    staff = make_principal(runtime, http, "exam_staff")
    sits_on = dt.datetime.now(exams.CHINA).date() + dt.timedelta(days=30)
    resp = staff.post("/v1/exam-sessions", json={
        "sits_on": sits_on.isoformat(), "venue": "河西区考点", "district": "河西区",
        "capacity": 10})
    assert resp.status_code == 201, resp.text
    session = resp.json()
    id_number = random_id_number(age=27)
    phone = "139" + id_number[-9:-1]  # a phone no other test texts to
    page = new_page(browser, live)
    page.goto("/public")
    page.wait_for_selector(f"#e-session option[value='{session['id']}']", state="attached")
    assert "10 seats left" in page.inner_text(f"#e-session option[value='{session['id']}']")
    page.select_option("#e-session", str(session["id"]))
    page.fill("#e-id", id_number)
    page.fill("#e-name", "韩立新")
    page.fill("#e-phone", phone)
    page.click("#exam-form button[type=submit]")
    page.wait_for_selector("#exam-result .exam-code-sent")
    assert page.is_visible("#exam-code-form")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    right = texted_code(runtime, phone)
    # A wrong code: the same neutral answer as no code, and the code form stays.
    page.fill("#e-code", f"{(int(right) + 1) % 10**6:06d}")
    page.click("#exam-code-form button[type=submit]")
    page.wait_for_selector("#exam-result .exam-code-not-taken")
    said = page.inner_text("#exam-result")
    assert "check the code or ask for a new one" in said and "请核对确认码" in said
    assert page.is_visible("#exam-code-form")
    # The right one: registered, the code shown once and prominently.
    page.fill("#e-code", right)
    page.click("#exam-code-form button[type=submit]")
    page.wait_for_selector("#exam-result #registration-code")
    registration_code = page.inner_text("#registration-code").strip()
    assert len(registration_code) >= 8
    assert sits_on.isoformat() in page.inner_text("#exam-result")
    assert not page.is_visible("#exam-code-form")
    page.wait_for_function(
        "id => (document.querySelector(`#e-session option[value='${id}']`) || {}).textContent"
        "?.includes('9 seats left')", arg=session["id"])
    shot(page, shots, "public-exam-registered")
    assert axe_violations(page) == []
    assert page.problems == []
    # The registration the page made is the one the registry holds: the ticket opens
    # with the ID number and the code shown.
    ticket = http.post("/v1/public/exam-ticket", json={
        "id_number": id_number, "registration_code": registration_code})
    assert ticket.status_code == 200, ticket.text
    listed = staff.get(f"/v1/exam-sessions/{session['id']}/registrations").json()["items"]
    assert [r["name"] for r in listed] == ["韩立新"]
