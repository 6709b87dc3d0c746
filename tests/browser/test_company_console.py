"""The company clerk's working day in headless Chromium, at 360 px and on a desktop:
first sign-in with a one-time password, the company named, enrollment with a real photo
and real fingerprints, the eligibility pre-check (ineligible, then eligible) and the
request, a CSV batch with a per-row report, the annual report, the inbox, the session
ending; axe-core on every state, signed in and out."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import pytest

from registry import notifications
from tests.browser.conftest import sign_in
from tests.browser.test_pages import (
    WIDTH,
    assert_fits_phone,
    axe_violations,
    colour_at,
    new_page,
    shot,
)
from tests.conftest import (
    FINGERS,
    PEOPLE,
    Api,
    internal_guard_id,
    random_id_number,
    record_exam_pass,
    texted_code,
)

pytestmark = pytest.mark.browser
OK_BG = (227, 244, 232)  # .msg.ok


def visible_main_parts(page: Any) -> list[str]:
    return page.evaluate("""() => [...document.querySelector('main').children]
        .filter(n => !n.hidden && n.offsetParent !== null).map(n => n.id || n.tagName)""")


def test_signed_out_pages_show_only_the_sign_in(browser: Any, live: str) -> None:
    page = new_page(browser, live)
    for path in ("/dashboard", "/company", "/guard"):
        page.goto(path)
        page.wait_for_selector("body[data-ready='1']")
        assert visible_main_parts(page) == ["auth"], path
        # No live control: the only buttons are the sign-in's and the language toggle.
        buttons = page.evaluate("""() => [...document.querySelectorAll('button')]
            .filter(b => b.offsetParent !== null).map(b => b.id || b.textContent.trim())""")
        assert set(buttons) <= {"lang", "su-code-show", "Sign in", "Activate and sign in"}, \
            (path, buttons)
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('gr.key'))") == []
        assert axe_violations(page) == [], path
        assert_fits_phone(page)
    page.goto("/scan")  # the scanner works signed out (offline verification)
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#auth").is_visible()
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()


def test_company_clerk_journey(browser: Any, live: str, reg: Api, runtime: Any,
                               make_person: Any, shots: Path) -> None:
    company = reg.make_company(name=f"津门安保服务公司{secrets.token_hex(2)}")
    clerk = make_person("company_operator", company=company, one_time=True)
    page = new_page(browser, live)
    page.goto("/company")
    page.wait_for_selector("body[data-ready='1']")
    assert visible_main_parts(page) == ["auth"]
    sign_in(page, clerk)  # the one-time password is replaced on the page
    assert not clerk.one_time
    page.wait_for_function(
        "name => document.getElementById('company-name').textContent === name", arg=company["name"])
    assert company["name"] in page.inner_text("#who")
    page.wait_for_selector("#annual-status[data-status='due'], "
                           "#annual-status[data-status='overdue']")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    shot(page, shots, "company-signed-in-360")

    # Enroll one guard through the form (the person confirms with the code texted to the
    # phone given, issue 14), then a photo and two fingers.
    name = "赵" + secrets.choice("志刚秀英建华")
    phone = f"136{secrets.randbelow(10 ** 8):08d}"
    page.fill("#g-name", name)
    page.fill("#g-id", random_id_number())
    page.fill("#g-phone", phone)
    page.click("#enroll-form button[type=submit]")
    page.wait_for_selector("#g-code-box:not([hidden])")
    assert "code" in page.inner_text("#enroll-msg")
    assert axe_violations(page) == []
    page.fill("#g-code", "000000" if texted_code(runtime, phone) != "000000" else "111111")
    page.click("#enroll-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('enroll-msg').textContent"
                           ".includes('wrong')")
    page.fill("#g-code", texted_code(runtime, phone))
    page.click("#enroll-form button[type=submit]")
    page.wait_for_selector("#capture:not([hidden])")
    assert page.is_hidden("#g-code-box")
    guard_id = page.get_attribute("#capture", "data-guard-id")  # the public id (issue 14)
    assert guard_id
    page.set_input_files("#photo", str(PEOPLE / "Zhang_Ziyi_0001_x2.jpg"))
    page.click("#photo-form button[type=submit]")
    page.wait_for_selector("#photo-msg.ok, #photo-msg.warn")
    for position, image in (("2", "103_1.png"), ("7", "104_1.png")):
        page.select_option("#position", position)
        page.set_input_files("#finger", str(FINGERS / image))
        page.click("#finger-form button[type=submit]")
        page.wait_for_selector("#finger-msg.ok, #finger-msg.warn")
        page.wait_for_selector(f"#sel-fingers tr[data-position='{position}'] td.st-enrolled, "
                               f"#sel-fingers tr[data-position='{position}'] td.st-held")
    table = page.inner_text("#sel-fingers")
    assert "right index finger (2)" in table and "left index finger (7)" in table
    assert "not captured" in page.inner_text("#sel-fingers tr[data-position='1']")

    # Ineligible: no background check yet; the request button waits and says why.
    page.wait_for_selector("#eligibility[data-eligible='false']")
    assert "background check" in page.inner_text("#eligibility")
    assert "No passed guard exam" in page.inner_text("#eligibility")
    assert page.is_disabled("#request")
    img = shot(page, shots, "company-ineligible-360")
    assert img.width == WIDTH
    # Forced anyway (an old page, a race): the service refuses with the same reasons.
    page.evaluate("document.getElementById('request').disabled = false")
    page.click("#request")
    page.wait_for_selector("#request-msg.error li[data-code='no-background-check']")
    assert "Not eligible yet" in page.inner_text("#request-msg")

    # The regulator approves the holds (the data set's people recur) and clears the check.
    for review in reg.get("/v1/biometrics/reviews?limit=200").json()["items"]:
        if review["guard_id"] == guard_id:
            assert reg.post(f"/v1/biometrics/reviews/{review['id']}/decision",
                            json={"approve": True}).status_code == 200
    assert reg.post(f"/v1/guards/{guard_id}/background-checks", json={
        "result": "clear", "checked_on": dt.date.today().isoformat()}).status_code == 201
    record_exam_pass(reg, guard_id)  # the certificate is earned by the exam (issue 15)
    page.click(f"li[data-guard-id='{guard_id}'] .guard-row button")
    page.wait_for_selector("#eligibility[data-eligible='true']")
    assert not page.is_disabled("#request")
    page.click("#request")
    page.wait_for_selector("#request-msg.ok")
    assert "Issuance requested" in page.inner_text("#request-msg")
    pending = reg.get("/v1/certificate-requests").json()["items"]
    assert any(r["guard_id"] == guard_id for r in pending)
    img = shot(page, shots, "company-requested-360")
    box = page.locator("#eligibility").bounding_box()
    assert colour_at(img, (int(box["x"]) + 3, int(box["y"]) + 3,
                           int(box["x"]) + 9, int(box["y"]) + 9)) == OK_BG
    button = page.locator("#request").bounding_box()
    assert button["height"] >= 44 and button["x"] + button["width"] <= WIDTH
    assert axe_violations(page) == []

    # The bureau approves: the guard's row shows the certificate and the card downloads.
    request_id = next(r["id"] for r in pending if r["guard_id"] == guard_id)
    assert reg.post(f"/v1/certificate-requests/{request_id}/decision",
                    json={"approve": True}).status_code == 200
    page.reload()
    row = page.locator(f"li[data-guard-id='{guard_id}']")
    row.locator(".cert-status", has_text="valid").wait_for()
    with page.expect_download() as dl:
        row.locator("button", has_text="Card PDF").click()
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")

    # A CSV of three rows, one with a bad ID number: a report per row.
    good = random_id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # the check digit is wrong
    people = [("钱学军", random_id_number(), "13800000001"), ("孙丽", bad, "13800000002"),
              ("李国庆", random_id_number(), "13800000003")]
    csv = "name,id_number,phone\n" + "".join(f"{n},{i},{p}\n" for n, i, p in people)
    page.set_input_files("#batch-file", files=[{"name": "staff.csv", "mimeType": "text/csv",
                                                 "buffer": csv.encode()}])
    page.click("#batch-form button[type=submit]")
    page.wait_for_selector("#batch[data-done='1']")
    # First the people confirm (issue 14): the rows wait for the codes texted to them,
    # which go in a consent_code column for the second upload.
    for line in ("2", "4"):
        assert "awaiting" in page.get_attribute(f"#batch-report tr[data-line='{line}']", "class")
    assert "2 wait" in page.inner_text("#batch-msg")
    codes = [texted_code(runtime, people[0][2]), "", texted_code(runtime, people[2][2])]
    csv = "name,id_number,phone,consent_code\n" + "".join(
        f"{n},{i},{p},{c}\n" for (n, i, p), c in zip(people, codes, strict=True))
    page.evaluate("() => { delete document.getElementById('batch').dataset.done; }")
    page.set_input_files("#batch-file", files=[{"name": "staff.csv", "mimeType": "text/csv",
                                                 "buffer": csv.encode()}])
    page.click("#batch-form button[type=submit]")
    page.wait_for_selector("#batch[data-done='1']")
    assert page.get_attribute("#batch-progress", "value") == "3"
    assert page.locator("#batch-report tbody tr").count() == 3
    assert "rejected" in page.get_attribute("#batch-report tr[data-line='3']", "class")
    assert "钱学军" in page.inner_text("#batch-report tr[data-line='2']")
    assert "1 rejected" in page.inner_text("#batch-msg")
    page.wait_for_selector("li[data-guard-id] >> text=李国庆")
    assert_fits_phone(page)
    assert axe_violations(page) == []

    # The annual report for last year.
    year = dt.date.today().year - 1
    page.fill("#ar-year", str(year))
    for field, value in (("ar-headcount", "40"), ("ar-contracts", "38"), ("ar-insured", "36"),
                         ("ar-training", "1600"), ("ar-incidents", "0")):
        page.fill(f"#{field}", value)
    page.click("#annual-form button[type=submit]")
    page.wait_for_selector("#annual-status[data-status='filed']")
    assert f"{year}" in page.inner_text("#annual-list")
    reports = reg.get(f"/v1/companies/{company['id']}/annual-reports").json()
    assert reports["items"][0]["headcount"] == 40

    # The inbox: a notification arrives, is read.
    with runtime.db.transaction() as cur:
        notifications.notify_employer(cur, guard_id=internal_guard_id(runtime, guard_id),
                                      kind="certificate.reissued",
                                      subject="保安员证已换发 certificate re-issued",
                                      now=dt.datetime.now(dt.UTC))
    page.reload()
    item = page.locator("#inbox-list li", has_text="certificate re-issued")
    item.wait_for()
    assert "unread" in (item.get_attribute("class") or "")
    unread = int(page.inner_text("#inbox-unread").split()[0])
    assert unread >= 2  # this one, and the approved request's answer
    for n in range(unread):  # read them all
        page.locator("#inbox-list li.unread button").first.click()
        left = unread - n - 1
        page.wait_for_function("t => document.getElementById('inbox-unread').textContent === t",
                               arg=f"{left} unread" if left else "")
    assert page.locator("#inbox-list li.unread").count() == 0

    # Desktop: the same page, checked again.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click(f"li[data-guard-id='{guard_id}'] .guard-row button")
    page.wait_for_selector("#eligibility[data-eligible='true']")
    assert axe_violations(page) == []
    shot(page, shots, "company-desktop")
    assert page.locator("main").bounding_box()["width"] <= 660
    # Chinese: finger positions and values in Chinese.
    page.click("#lang")
    page.wait_for_function(
        "() => document.getElementById('sel-fingers').textContent.includes('右手食指')")
    assert "已采集" in page.inner_text("#sel-fingers")
    assert "not captured" not in page.inner_text("main").lower()
    assert axe_violations(page) == []
    page.click("#lang")
    page.wait_for_selector(f"li[data-guard-id='{guard_id}'] .capture-status .chip")
    page.wait_for_load_state("networkidle")

    # The session ends (here: the cookies go); the next action says so and asks again.
    page.context.clear_cookies()
    page.click(f"li[data-guard-id='{guard_id}'] .guard-row button")
    page.wait_for_selector("body[data-auth='out'] #auth:not([hidden])")
    assert "session has ended" in page.inner_text("#auth-msg")
    assert visible_main_parts(page) == ["auth"]
    sign_in(page, clerk)
    page.wait_for_selector(f"li[data-guard-id='{guard_id}']")
    page.click("#signout")
    page.wait_for_selector("body[data-auth='out']")
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()


def test_guard_activates_their_page_with_the_employers_code(
        browser: Any, live: str, reg: Api, issued: dict[str, Any], make_person: Any,
        shots: Path) -> None:
    """The clerk makes a one-time code on the company page; the guard types it on the
    guard page, chooses a username and password, and is signed in to their own page."""
    from tests.conftest import make_issuable_guard

    guard = make_issuable_guard(reg, issued["company"]["id"])
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    clerk = make_person("company_operator", company=issued["company"])
    page = new_page(browser, live)
    page.goto("/company")
    sign_in(page, clerk)
    page.click(f"li[data-guard-id='{guard['id']}'] .guard-row button")
    page.click("#activation")
    page.wait_for_selector("#activation-code")
    code = page.inner_text("#activation-code")
    assert len(code.replace("-", "")) >= 12
    page.context.close()

    phone = new_page(browser, live)
    phone.goto("/guard")
    phone.wait_for_selector("body[data-ready='1']")
    assert axe_violations(phone) == []
    phone.click("#activate-box summary")
    phone.fill("#act-code", code.lower())  # typed as heard: case and dashes do not matter
    username = f"guard{secrets.token_hex(3)}"
    phone.fill("#act-user", username)
    phone.fill("#act-pass", "my own pass 2468")
    phone.fill("#act-again", "my own pass 2468")
    phone.click("#activate button[type=submit]")
    phone.wait_for_selector("body[data-auth='in'] #cert:not([hidden])")
    assert cert["number"] in phone.inner_text("#fields")
    assert username in phone.inner_text("#who")
    assert_fits_phone(phone)
    assert axe_violations(phone) == []
    shot(phone, shots, "guard-activated")
    # The code was used up: a second activation with it is refused, in words.
    phone.click("#signout")
    phone.wait_for_selector("body[data-auth='out']")
    if not phone.evaluate("document.getElementById('activate-box').open"):
        phone.click("#activate-box summary")
    phone.fill("#act-code", code)
    phone.fill("#act-user", f"guard{secrets.token_hex(3)}")
    phone.fill("#act-pass", "my own pass 2468")
    phone.fill("#act-again", "my own pass 2468")
    phone.click("#activate button[type=submit]")
    phone.wait_for_selector("#auth-msg.error")
    assert "activation code is unknown, used or expired" in phone.inner_text("#auth-msg")
    assert phone.problems == []
    phone.context.close()


def test_a_clerk_gives_a_colleague_an_account_and_can_take_it_back(
        browser: Any, live: str, reg: Api, make_person: Any) -> None:
    """No API key to hand out: the company creates its clerks' accounts on its page; the
    new clerk signs in with the one-time password and must choose their own; disabled,
    their open page finds its session ended."""
    from tests.browser.conftest import Person

    company = reg.make_company()
    boss = make_person("company_operator", company=company)
    page = new_page(browser, live)
    page.goto("/company")
    sign_in(page, boss)
    username = f"clerk{secrets.token_hex(3)}"
    page.fill("#clerk-user", username)
    page.click("#clerk-form button[type=submit]")
    page.wait_for_selector("#clerk-password")
    password = page.inner_text("#clerk-password")
    assert username in page.inner_text("#clerk-list")
    assert "waiting for the first sign-in" in page.inner_text("#clerk-list")
    assert axe_violations(page) == []

    colleague = Person(username, password, "company_operator", 0, company["id"], one_time=True)
    other = new_page(browser, live)
    other.goto("/company")
    sign_in(other, colleague)  # the page asks for a new password first
    other.wait_for_function(
        "name => document.getElementById('company-name').textContent === name",
        arg=company["name"])
    # The boss disables the colleague: the colleague's open page learns it on its next call.
    page.reload()
    row = page.locator("#clerk-list li", has_text=username)
    assert "active" in row.inner_text()
    row.locator("button", has_text="Disable").click()
    page.wait_for_selector("#clerk-msg.ok")
    other.fill("#g-name", "钱某")
    other.fill("#g-id", random_id_number())
    other.click("#enroll-form button[type=submit]")
    other.wait_for_selector("body[data-auth='out']")
    assert "session has ended" in other.inner_text("#auth-msg")
    assert page.problems == [] and other.problems == []
    page.context.close()
    other.context.close()


def test_sessions_are_listed_and_another_one_is_ended_from_the_page(
        browser: Any, live: str, issued: dict[str, Any], make_person: Any) -> None:
    clerk = make_person("company_operator", company=issued["company"])
    office, home = new_page(browser, live), new_page(browser, live)
    for page in (home, office):
        page.goto("/company")
        sign_in(page, clerk)
    office.click("#sessions summary")
    office.wait_for_function("() => document.querySelectorAll('#sessions-list li').length === 2")
    assert "this device" in office.inner_text("#sessions-list")
    assert axe_violations(office) == []
    office.click("#sessions-list li button")  # the other one: home
    office.wait_for_selector("#sessions-msg.ok")
    office.wait_for_function("() => document.querySelectorAll('#sessions-list li').length === 1")
    home.reload()
    home.wait_for_selector("body[data-auth='out']")
    assert home.locator("#sessions").is_hidden()
    assert office.problems == [] and home.problems == []
    office.context.close()
    home.context.close()
