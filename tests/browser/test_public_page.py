"""The public page in headless Chromium: file a complaint, follow it with the code, read
the black list and the published inspection results (notice §2 §4 §12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser.test_pages import assert_fits_phone, axe_violations, new_page, shot
from tests.conftest import Api


def test_the_public_files_a_complaint_follows_it_and_reads_the_black_list(
        browser: Any, live: str, reg: Api, shots: Path) -> None:
    listed = reg.make_company(name="天津市某某保安服务有限公司")
    resp = reg.post(f"/v1/companies/{listed['id']}/lists",
                    json={"list": "black", "reason": "使用无证人员从事保安服务"})
    assert resp.status_code == 201, resp.text
    page = new_page(browser, live)
    page.goto("/public")
    page.wait_for_selector("#list-black li")
    assert listed["name"] in page.inner_text("#list-black")
    assert_fits_phone(page)
    assert axe_violations(page) == []
    page.select_option("#c-category", "wage-arrears")
    page.fill("#c-description", "公司连续两个月未发工资，也没有签劳动合同。")
    page.fill("#c-company", listed["name"])
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#complaint-msg.ok .tracking-code")
    code = page.inner_text("#complaint-msg .tracking-code").strip()
    assert len(code.replace("-", "")) == 20
    shot(page, shots, "public-complaint-filed")
    page.fill("#t-code", code)
    page.click("#track-form button[type=submit]")
    page.wait_for_selector("#track-result .status")
    assert "received" in page.inner_text("#track-result")
    page.fill("#t-code", "AAAAA-BBBBB-CCCCC-DDDDD")
    page.click("#track-form button[type=submit]")
    page.wait_for_selector("#track-result .error")
    assert axe_violations(page) == []
    assert page.problems == []
    # What the public page showed is what the regulator received.
    case = next(c for c in reg.get("/v1/complaints?status=received&limit=200").json()["items"]
                if c["category"] == "wage-arrears"
                and reg.get(f"/v1/complaints/{c['id']}").json()["company_text"] == listed["name"])
    assert reg.get(f"/v1/complaints/{case['id']}").json()["contact"] is None  # anonymous
