"""The guard page shows the person's own archive (issue 15), in English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_pages import axe_violations, new_page, sign_in

pytestmark = pytest.mark.browser


def test_guard_page_shows_the_archive_in_both_languages(
        browser: Any, live: str, issued: dict[str, Any], make_person: Any) -> None:
    cert = issued["cert"]
    page = new_page(browser, live)
    page.goto("/guard")
    sign_in(page, make_person("guard", guard=issued["guard"]))
    page.wait_for_selector("#archive:not([hidden]) ul[data-part='archive.certs']")
    text = page.inner_text("#archive")
    assert "My archive" in text and "Employment" in text and "Certificates" in text
    assert cert["number"] in text
    assert issued["company"]["name"] in page.inner_text("ul[data-part='archive.employment']")
    assert axe_violations(page) == []
    page.click("#lang")
    page.wait_for_function("document.getElementById('archive-h').textContent === '我的档案'")
    text = page.inner_text("#archive")
    assert "从业经历" in text and "证书" in text and cert["number"] in text
    assert page.problems == []
    page.context.close()
