"""The guard page shows the one-time hire code a new employer needs (issue 14, takeover by
re-hire): headless Chromium on a live server, then another company hires with it."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.browser.test_pages import axe_violations, new_page, sign_in
from tests.conftest import Api, make_principal


def test_the_guard_reads_a_hire_code_that_lets_another_company_hire_them(
        browser: Any, live: str, runtime: Any, http: httpx.Client, reg: Api,
        make_person: Any) -> None:
    first, second = reg.make_company(), reg.make_company()
    guard = reg.make_guard(first["id"])
    page = new_page(browser, live)
    page.goto("/guard")
    sign_in(page, make_person("guard", guard=guard))
    page.click("#hire-code")
    page.wait_for_selector("#hire-msg.ok")
    shown = page.inner_text("#hire-msg")
    found = re.search(r"Hire code: ([A-Z2-9]{4}-[A-Z2-9]{4})", shown)
    assert found, shown
    assert "valid until" in shown
    assert axe_violations(page) == []
    assert page.problems == []
    page.context.close()
    operator = make_principal(runtime, http, "company_operator",  # type: ignore[arg-type]
                              company_id=second["id"])
    body = {"name": guard["name"], "id_number": guard["id_number"]}
    refused = operator.post("/v1/guards", json=body)
    assert refused.status_code == 202, refused.text
    assert refused.json()["status"] == "awaiting-confirmation"
    hired = operator.post("/v1/guards", json={**body, "consent_code": found.group(1)})
    assert hired.status_code == 201, hired.text
    assert hired.json()["id"] == guard["id"] and hired.json()["company_id"] == second["id"]
