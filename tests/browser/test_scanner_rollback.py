"""The scanner's offline store refuses an old signed status list replayed by the network
(issue 14): a revoked certificate stays revoked, and the page says what it refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_pages import HEIGHT, WIDTH, wait_verdict, watch
from tests.conftest import Api, make_issuable_guard, make_principal

pytestmark = pytest.mark.browser


def test_scanner_keeps_the_newer_status_list_when_an_old_one_is_replayed(
        browser: Any, live: str, http: Any, reg: Api, issued: dict[str, Any]) -> None:
    guard = make_issuable_guard(reg, issued["company"]["id"])
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    shard = int(cert["status_ref"]["uri"].rsplit("/", 1)[1])
    old_list = http.get(f"/v1/status-lists/{shard}").content  # the certificate is valid here
    # No service worker, so that the test's man in the middle sees the page's requests.
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="en-US",
                                  base_url=live, service_workers="block")
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch(page)
    page.goto("/scan")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('camera').dataset.i18n === 'scan.stop'")
    page.evaluate("document.getElementById('camera').click()")
    page.evaluate("document.getElementById('verdict').hidden = true")

    time.sleep(1.1)  # the revocation's list must carry a later iat (whole seconds)
    assert reg.post(f"/v1/certificates/{cert['number']}/revoke",
                    json={"reason": "misconduct"}).status_code == 200
    page.click("#refresh")
    page.wait_for_function("() => !document.getElementById('data-age').textContent"
                           ".includes('refused')")

    def verify_offline() -> None:
        page.fill("#qrtext", cert["text"])
        page.click("#text-form button")
        wait_verdict(page, "revoked", "offline")
        page.click("#next")

    verify_offline()
    page.route(f"**/v1/status-lists/{shard}",
               lambda route: route.fulfill(status=200, body=old_list,
                                           content_type="application/statuslist+cwt"))
    page.click("#refresh")
    page.wait_for_function("() => document.getElementById('data-age').textContent"
                           ".includes('older data from the network refused')")
    assert "rollback" in page.inner_text("#data-age")
    verify_offline()  # still revoked: the replayed list was not stored
    stored = page.evaluate("JSON.parse(localStorage.getItem('gr.status'))")
    assert all(v["iat"] > 0 for v in stored.values())
    assert page.problems == []
    context.close()


def test_guard_page_tells_the_holder_their_certificate_was_reissued(
        browser: Any, live: str, http: Any, reg: Api, issued: dict[str, Any],
        runtime: Any, make_person: Any) -> None:
    """After a key compromise the guard's current certificate is a new one that names
    the one it replaces (the API side is tests/api/test_trust.py); the page says so."""
    import json

    guard = make_issuable_guard(reg, issued["company"]["id"])
    cert = reg.post(f"/v1/guards/{guard['id']}/certificate").json()
    holder = make_principal(runtime, http, "guard", guard_id=guard["id"])
    mine = http.get("/v1/me/certificate", headers=holder.headers).json()
    assert mine["replaces"] is None
    mine["replaces"] = {"number": "120120260000007X", "reason": "key-compromised"}
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="en-US",
                                  base_url=live, service_workers="block")
    page = context.new_page()
    watch(page)
    page.route("**/v1/me/certificate", lambda route: route.fulfill(
        status=200, body=json.dumps(mine), content_type="application/json"))
    page.goto("/guard")
    sign_in(page, make_person("guard", guard=guard))
    page.wait_for_selector("#reissued:not([hidden])")
    note = page.inner_text("#reissued")
    assert "120120260000007X" in note and "Re-issued" in note
    assert cert["number"] in page.inner_text("main")
    assert page.problems == []
    context.close()
