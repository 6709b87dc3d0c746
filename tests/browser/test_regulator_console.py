"""The regulator's journeys in the console (/regulator) in headless Chromium, at 360 px
and on a desktop: review a held duplicate with every modality's evidence, approve an
issuance request, import a background-check CSV with a per-line report, filter the audit
log. Real photos, real fingerprints, real PostgreSQL; screenshots are checked by their
content (element sizes, colours of the plot) and axe-core finds no serious or critical
violation."""

from __future__ import annotations

import datetime as dt
import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.browser.conftest import Person, sign_in
from tests.browser.test_pages import (
    HEIGHT,
    WIDTH,
    assert_fits_phone,
    axe_violations,
    new_page,
)
from tests.conftest import PEOPLE, Api, make_issuable_guard, random_id_number

pytestmark = pytest.mark.browser

FACES = Path(__file__).parents[1] / "fixtures" / "faces"
DEDUP = Path(__file__).parents[1] / "fixtures" / "dedup"
DESKTOP = {"width": 1200, "height": 900}


# -- sign-in: the ONE place to switch to account sign-in at merge ------------------------
def sign_in_as_regulator(page: Any, who: Person) -> None:
    sign_in(page, who)  # password + TOTP through the page's own form
    page.wait_for_selector("#tabs:not([hidden])")


@pytest.fixture(scope="module")
def regulator_person(make_person: Any) -> Person:
    return make_person("regulator")  # type: ignore[no-any-return]


def open_console(browser: Any, live: str, who: Person, section: str, *, locale: str = "en-US",
                 viewport: dict[str, int] | None = None) -> Any:
    if locale == "en-US":
        page = new_page(browser, live)
    else:
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                      locale=locale, base_url=live)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
    if viewport:
        page.set_viewport_size(viewport)
    page.goto("/regulator")
    page.wait_for_selector("body[data-ready='1']")
    assert axe_violations(page) == []  # signed out, too
    sign_in_as_regulator(page, who)
    page.goto(f"/regulator#{section}")
    page.wait_for_selector(f"body[data-section='{section}'][data-ready='1']")
    return page


def png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def count_near(img: Image.Image, ref: tuple[int, int, int], tol: int = 40) -> int:
    return sum(1 for p in img.getdata() if all(abs(a - b) <= tol for a, b in zip(p, ref,
                                                                             strict=True)))


def enrol(api: Api, guard_id: int, photo: Path, fingers: dict[int, Path]) -> list[int]:
    codes = [api.post(f"/v1/guards/{guard_id}/face", files={
        "photo": (photo.name, photo.read_bytes(), "image/jpeg")}).status_code]
    for pos, f in fingers.items():
        codes.append(api.post(f"/v1/guards/{guard_id}/fingers/{pos}", files={
            "image": (f.name, f.read_bytes(), "image/png")}).status_code)
    return codes


@pytest.fixture(scope="module")
def held(reg: Api, issued: dict[str, Any]) -> dict[str, Any]:
    """A banned person (first identity) enrolling again under a new ID number with another
    photo and other impressions of the same fingers: held for review."""
    first_co = reg.make_company(name="海河保安服务有限公司" + secrets.token_hex(2))
    first = reg.make_guard(first_co["id"], name="赵" + secrets.choice("德明华国"))
    enrol(reg, first["id"], PEOPLE / "Hu_Jintao_0001_x2.jpg",
          {3: DEDUP / "107_1.png", 4: DEDUP / "108_1.png"})
    for r in reg.get("/v1/biometrics/reviews?limit=200").json()["items"]:
        if r["guard_id"] == first["id"]:  # other tests reuse these fingers
            reg.post(f"/v1/biometrics/reviews/{r['id']}/decision", json={"approve": True})
    assert reg.post("/v1/bans", json={"id_number": first["id_number"],
                                      "reason": "冒用他人身份"}).status_code == 201
    company = reg.make_company(name="津沽安保有限公司" + secrets.token_hex(2))
    again = reg.make_guard(company["id"], name="钱" + secrets.choice("立新志军"))
    codes = enrol(reg, again["id"], FACES / "Hu_Jintao_0002.jpg",
                  {3: DEDUP / "107_2.png", 4: DEDUP / "108_2.png"})
    assert 202 in codes, codes
    # the hold of the last finger weighs everything: the face and both fingers
    review = max((r for r in reg.get("/v1/biometrics/reviews?limit=200").json()["items"]
                  if r["guard_id"] == again["id"] and r["status"] == "pending"),
                 key=lambda r: r["id"])
    return {"first": first, "again": again, "review": review}


def test_review_a_duplicate_with_every_modalitys_evidence(
        browser: Any, live: str, reg: Api, held: dict[str, Any], shots: Path,
        regulator_person: Any) -> None:
    first, again, review = held["first"], held["again"], held["review"]
    page = open_console(browser, live, regulator_person, "reviews", viewport=DESKTOP)
    item = page.locator(f"li[data-review-id='{review['id']}']")
    item.wait_for()
    evidence = item.locator(f".candidate-evidence[data-candidate='{first['id']}']")
    evidence.wait_for()
    # both face crops loaded, side by side
    page.wait_for_function(
        f"() => [...document.querySelectorAll(\".candidate-evidence[data-candidate='{first['id']}']"
        " .faces img\")].filter(i => i.complete && i.naturalWidth >= 200).length === 2")
    boxes = [evidence.locator(".faces img").nth(i).bounding_box() for i in range(2)]
    assert all(b["width"] >= 150 for b in boxes), boxes
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"] + 100
    # the other identity named: name, masked ID number, employer, ban status
    other = evidence.locator(".identity[data-role='other']").inner_text()
    assert first["name"] in other
    masked = first["id_number"][:6] + "********" + first["id_number"][14:]
    assert masked in other and first["id_number"] not in other
    assert "BANNED" in other and "冒用他人身份" in other and "no current employer" in other
    assert again["name"] in evidence.locator(".identity[data-role='held']").inner_text()
    # the odds in words
    odds = evidence.locator(".odds").inner_text()
    assert odds.startswith("About 1 in") or odds.startswith("Fewer than 1 in"), odds
    assert "two different people score this high on the face and 2 fingers" in odds
    # minutiae plots drawn from both templates, mated minutiae linked, fingers named
    plots = evidence.locator("svg.minutiae-plot")
    assert plots.count() == 2
    for i in range(2):
        plot = plots.nth(i)
        assert plot.locator("line.mate").count() >= 4
        assert plot.locator("g.minutia[data-side='held']").count() >= 10
        assert plot.locator("g.minutia[data-side='candidate']").count() >= 10
        assert plot.locator("g.minutia.mated").count() == 2 * plot.locator("line.mate").count()
        assert plot.bounding_box()["width"] >= 400
    headings = evidence.locator("h4").all_inner_texts()
    assert any("right middle finger against right middle finger" in x for x in headings)
    assert any("right ring finger" in x for x in headings)
    # the screenshot shows the plot: red mated minutiae and blue links on it
    plot_png = png(plots.nth(0).screenshot(path=str(shots / "regulator-review-plot.png")))
    assert count_near(plot_png, (176, 0, 32)) > 30, "no red mated minutiae in the picture"
    assert count_near(plot_png, (11, 79, 138), tol=50) > 30, "no blue links in the picture"
    shot = png(item.screenshot(path=str(shots / "regulator-review.png")))
    assert shot.width >= 800 and shot.height >= 600
    assert axe_violations(page) == []

    # 360 px: everything still fits, the crops stay side by side and readable
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    assert_fits_phone(page)
    boxes = [evidence.locator(".faces img").nth(i).bounding_box() for i in range(2)]
    assert all(b["width"] >= 120 for b in boxes), boxes
    assert plots.nth(0).bounding_box()["width"] >= 280
    page.screenshot(path=str(shots / "regulator-review-phone.png"), full_page=True)
    assert axe_violations(page) == []

    # Chinese: the odds and the finger names in words
    page.click("#lang")
    page.wait_for_function(
        f"() => document.querySelector(\".candidate-evidence[data-candidate='{first['id']}']"
        " .odds\")?.textContent.includes('分之一')")
    zh = page.locator(f".candidate-evidence[data-candidate='{first['id']}']")
    zh_odds = zh.locator(".odds").inner_text()
    assert "人脸和2枚指纹" in zh_odds and "亿 " not in zh_odds, zh_odds
    assert "右手中指" in " ".join(zh.locator("h4").all_inner_texts())
    assert "禁入人员" in zh.locator(".identity[data-role='other']").inner_text()
    page.click("#lang")
    page.wait_for_selector(f"li[data-review-id='{review['id']}'] .candidate-evidence")

    # the same person: reject
    page.locator(f"li[data-review-id='{review['id']}'] input").fill("同一人，冒用身份")
    page.locator(f"li[data-review-id='{review['id']}'] button.reject").click()
    page.wait_for_selector(f"li[data-review-id='{review['id']}']", state="detached")
    rejected = reg.get("/v1/biometrics/reviews?status=rejected&limit=200").json()["items"]
    assert any(r["id"] == review["id"] for r in rejected)
    assert page.problems == []
    page.context.close()


def test_approve_an_issuance_request(browser: Any, live: str, reg: Api, shots: Path,
        regulator_person: Any) -> None:
    company = reg.make_company()
    guard = make_issuable_guard(reg, company["id"], name="孙" + secrets.choice("海涛建华"))
    req = reg.post(f"/v1/guards/{guard['id']}/certificate-requests", json={"note": "新入职"})
    assert req.status_code == 201, req.text
    request_id = req.json()["id"]
    page = open_console(browser, live, regulator_person, "issuance")
    row = page.locator(f"li[data-request-id='{request_id}']")
    row.wait_for()
    text = row.inner_text()
    assert guard["name"] in text and company["name"] in text and "complete" in text
    assert_fits_phone(page)
    assert axe_violations(page) == []
    png(row.screenshot(path=str(shots / "regulator-issuance.png")))
    row.locator("button.approve").click()
    page.wait_for_selector("#issuance-msg.ok")
    certs = reg.get(f"/v1/guards/{guard['id']}/certificates").json()["items"]
    assert [c["status"] for c in certs] == ["valid"]
    assert certs[0]["number"] in page.inner_text("#issuance-msg")
    assert guard["name"] in page.inner_text("#issuance-msg")
    assert page.locator(f"li[data-request-id='{request_id}']").count() == 0
    assert page.problems == []
    page.context.close()


def test_upload_a_check_csv_with_progress_and_a_per_line_report(
        browser: Any, live: str, reg: Api, shots: Path, tmp_path: Path,
        regulator_person: Any) -> None:
    company = reg.make_company()
    guard = reg.make_guard(company["id"])
    today = dt.date.today().isoformat()
    lines = ["id_number,result,reason,checked_on",
             f"{guard['id_number']},clear,,{today}",
             f"{guard['id_number']},maybe,,{today}"]
    lines += [f"{random_id_number()},clear,,{today}" for _ in range(118)]  # nobody: rejected
    path = tmp_path / "checks.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = open_console(browser, live, regulator_person, "checks")
    page.set_input_files("#checks-file", str(path))
    page.click("#checks-form button[type=submit]")
    page.wait_for_selector("#checks-summary:not([hidden])")
    # two chunks were sent and the bar reached the end
    assert page.evaluate("document.getElementById('checks-progress').value") == 120
    assert page.evaluate("document.getElementById('checks-progress').max") == 120
    assert "120 of 120 lines processed" in page.inner_text("#checks-progress-text")
    summary = page.inner_text("#checks-summary")
    assert "Applied 1" in summary and "rejected 119" in summary, summary
    rows = page.locator("#checks-report tr[data-line]")
    assert rows.count() == 120
    assert page.get_attribute("tr[data-line='2']", "data-status") == "applied"
    assert page.get_attribute("tr[data-line='3']", "data-status") == "rejected"
    assert "clear or failed" in page.inner_text("tr[data-line='3']")
    assert page.get_attribute("tr[data-line='121']", "data-status") == "rejected"
    assert "no guard" in page.inner_text("tr[data-line='121']")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    shot = png(page.screenshot(path=str(shots / "regulator-checks.png")))
    assert shot.width == WIDTH
    checks = reg.get(f"/v1/guards/{guard['id']}/background-checks").json()["items"]
    assert any(c["source"] == "csv-import" for c in checks)
    assert page.problems == []
    page.context.close()


def test_audit_filter_keys_overview_and_the_chinese_default(
        browser: Any, live: str, reg: Api, held: dict[str, Any], shots: Path,
        regulator_person: Any) -> None:
    page = open_console(browser, live, regulator_person, "audit", locale="zh-CN", viewport=DESKTOP)
    assert page.inner_text("h1") == "监管控制台"
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.select_option("#audit-action", "ban.")
    page.click("#audit-form button[type=submit]")
    page.wait_for_selector("#audit-table[data-query*='action=ban.'] tr[data-action]")
    actions = page.eval_on_selector_all("#audit-table tr[data-action]",
                                        "rows => rows.map(r => r.dataset.action)")
    assert actions and all(a.startswith("ban.") for a in actions), actions
    seqs = page.eval_on_selector_all("#audit-table tr[data-seq]",
                                     "rows => rows.map(r => Number(r.dataset.seq))")
    assert seqs == sorted(seqs, reverse=True)
    assert "禁入" in page.inner_text("#audit-table")
    png(page.screenshot(path=str(shots / "regulator-audit.png")))
    assert axe_violations(page) == []
    page.fill("#audit-actor", "nobody-" + secrets.token_hex(3))
    page.click("#audit-form button[type=submit]")
    page.wait_for_selector("#audit-msg:not([hidden])")
    assert "未找到" in page.inner_text("#audit-msg")

    page.goto("/regulator#keys")
    page.wait_for_selector("body[data-section='keys'][data-ready='1']")
    purposes = page.eval_on_selector_all("#key-table tr[data-purpose]",
                                         "rows => rows.map(r => r.dataset.purpose)")
    assert {"certificate", "status-list", "trust-list"} <= set(purposes)
    assert "信任列表签发于" in page.inner_text("#trust-state")
    assert axe_violations(page) == []

    page.goto("/regulator#overview")
    page.wait_for_selector("body[data-section='overview'][data-ready='1']")
    page.wait_for_selector("#chart-certs svg")
    page.wait_for_selector("#chart-capture svg")
    page.wait_for_selector("#chart-checks svg")
    assert "有效证书" in page.inner_text("#figures")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.screenshot(path=str(shots / "regulator-overview-phone.png"), full_page=True)
    chart = page.locator("#chart-certs svg")
    assert chart.bounding_box()["width"] >= 280
    bars = png(chart.screenshot(path=str(shots / "regulator-overview-certs.png")))
    assert count_near(bars, (10, 125, 44)) > 50  # the green bar of valid certificates
    assert page.problems == []
    page.context.close()


def test_company_and_guard_search_and_detail(browser: Any, live: str, reg: Api,
                                             shots: Path, regulator_person: Any) -> None:
    company = reg.make_company(name="北辰护卫有限公司" + secrets.token_hex(2))
    guard = make_issuable_guard(reg, company["id"], name="周" + secrets.choice("晓东子健"))
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    assert reg.post(f"/v1/companies/{company['id']}/credit-events", json={
        "points": -20, "kind": "violation", "reason": "未按规定着装",
        "occurred_on": dt.date.today().isoformat()}).status_code == 201
    page = open_console(browser, live, regulator_person, "companies")
    page.fill("#company-q", company["name"])
    page.click("#company-search button[type=submit]")
    page.locator(f"#company-list li[data-company-id='{company['id']}'] button").click()
    page.wait_for_selector(f"#company-detail h3[data-company-id='{company['id']}']")
    detail = page.inner_text("#company-detail")
    assert company["credit_code"] in detail and "未按规定着装" in detail and "violation" in detail
    assert "980" in detail  # 1000 - 20 points
    # licence action through the page: suspend with a reason
    page.select_option("#company-detail select >> nth=0", "suspend")
    page.fill("#company-detail input >> nth=0", "整改期间")
    page.locator("#company-detail button", has_text="Apply").click()
    page.wait_for_function("() => document.getElementById('company-detail').textContent"
                           ".includes('licence suspended')")
    assert reg.get(f"/v1/companies/{company['id']}").json()["status"] == "suspended"
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.screenshot(path=str(shots / "regulator-company-phone.png"), full_page=True)

    page.goto("/regulator#guards")
    page.wait_for_selector("body[data-section='guards'][data-ready='1']")
    page.fill("#guard-q", cert["number"])
    page.click("#guard-search button[type=submit]")
    page.locator(f"#guard-list li[data-guard-id='{guard['id']}'] button").click()
    page.wait_for_selector(f"#guard-detail h3[data-guard-id='{guard['id']}']")
    detail = page.inner_text("#guard-detail")
    assert guard["name"] in detail and cert["number"] in detail and company["name"] in detail
    assert "right index finger: enrolled" in detail and "left index finger: enrolled" in detail
    assert "clear" in detail  # the background check
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.screenshot(path=str(shots / "regulator-guard-phone.png"), full_page=True)

    # bans: ban this person through the page; the list shows the ID number masked
    page.goto("/regulator#bans")
    page.wait_for_selector("body[data-section='bans'][data-ready='1']")
    page.fill("#ban-id", guard["id_number"])
    page.fill("#ban-reason", "严重违规")
    page.click("#ban-form button[type=submit]")
    page.wait_for_selector("#bans-msg.ok")
    page.wait_for_selector("#ban-list tr[data-ban-id]")
    masked = guard["id_number"][:6] + "********" + guard["id_number"][14:]
    bans = page.inner_text("#ban-list")
    assert masked in bans and "严重违规" in bans and guard["id_number"] not in bans
    assert_fits_phone(page)
    assert axe_violations(page) == []
    # ...and the guard's own page lists it
    page.goto("/regulator#guards")
    page.wait_for_selector("body[data-section='guards'][data-ready='1']")
    page.fill("#guard-q", guard["id_number"])
    page.click("#guard-search button[type=submit]")
    page.locator(f"#guard-list li[data-guard-id='{guard['id']}'] button").click()
    page.wait_for_selector(f"#guard-detail h3[data-guard-id='{guard['id']}']")
    assert "严重违规" in page.inner_text("#guard-detail")

    # exports: the companies CSV downloads, with this company in it
    page.goto("/regulator#exports")
    page.wait_for_selector("body[data-section='exports'][data-ready='1']")
    assert axe_violations(page) == []
    with page.expect_download() as dl:
        page.click("button[data-export='companies']")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("id,name,credit_code") and company["credit_code"] in text
    with page.expect_download() as dl:
        page.click("button[data-export='guards']")
    guards_csv = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert masked in guards_csv and guard["id_number"] not in guards_csv
    assert page.problems == []
    page.context.close()
