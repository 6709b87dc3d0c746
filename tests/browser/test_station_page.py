"""The exam registration point (issue 15) in headless Chromium: exam staff find a
candidate by the ID card, capture a real photo and a real finger through the biometric
pipeline, and a guard certificate presented as an admission ticket is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from registry import exams
from tests.browser.test_pages import assert_fits_phone, axe_violations, new_page, shot, sign_in
from tests.conftest import FINGERS, PEOPLE, make_principal, random_id_number


def test_station_captures_a_candidate_and_refuses_a_certificate_as_ticket(
        browser: Any, live: str, runtime: Any, http: Any, reg: Any, issued: dict[str, Any],
        shots: Path, make_person: Any) -> None:
    staff = make_principal(runtime, http, "exam_staff")
    today = dt.datetime.now(exams.CHINA).date()
    session = staff.post("/v1/exam-sessions", json={
        "sits_on": today.isoformat(), "venue": "红桥区考点", "district": "红桥区",
        "capacity": 10}).json()
    id_number = random_id_number(age=33)
    assert reg.post(f"/v1/exam-sessions/{session['id']}/registrations", json={
        "id_number": id_number, "name": "冯建国"}).status_code == 201
    page = new_page(browser, live)
    page.goto("/station")
    sign_in(page, make_person("exam_staff"))
    page.wait_for_selector(f"#session option[value='{session['id']}']", state="attached")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.select_option("#session", str(session["id"]))
    page.fill("#s-id", id_number)
    page.click("#find-form button[type=submit]")
    page.wait_for_selector("#capture:not([hidden])")
    assert "冯建国" in page.inner_text("#cand-name")
    page.set_input_files("#photo", str(PEOPLE / "Zhang_Ziyi_0001_x2.jpg"))
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#photo-msg.ok, #photo-msg.warn")
    page.select_option("#position", "2")
    page.set_input_files("#finger", str(FINGERS / "105_1.png"))
    page.click("#finger-form button[type=submit]")
    page.wait_for_selector("#finger-msg.ok, #finger-msg.warn")
    page.wait_for_function(
        "() => /Face: (enrolled|held)/.test(document.getElementById('cand-status').textContent)")
    shot(page, shots, "station-captured")
    registration_id = int(page.get_attribute("#capture", "data-registration-id"))
    captured = staff.get(f"/v1/exam-registrations/{registration_id}").json()
    assert captured["face"] in ("enrolled", "held") and captured["fingers_enrolled"] in (0, 1)
    # A guard certificate is not an admission ticket.
    page.fill("#a-ticket", issued["cert"]["text"])
    page.set_input_files("#a-photo", str(PEOPLE / "Zhang_Ziyi_0001_x2.jpg"))
    page.set_input_files("#a-finger", str(FINGERS / "105_1.png"))
    page.click("#attend-form button[type=submit]")
    page.wait_for_selector("#attend-msg.error")
    assert "ticket" in page.inner_text("#attend-msg")
    assert page.problems == []
    page.context.close()
