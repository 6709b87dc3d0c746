"""Page cursors are opaque (issue 14): a list's ``next_cursor`` does not show the internal
sequential id it continues from, opens only on the list that gave it out, and anything
else sent back as a cursor is a 422 problem, never a 500 or a silently wrong page."""

from __future__ import annotations

import base64
import secrets
import struct
from typing import Any

import pytest
from pydantic import SecretStr

from api.app import create_app
from api.cursors import TOKEN_CHARS, InvalidCursor, PageCursors
from api.runtime import Runtime
from registry.settings import Settings
from tests.conftest import Api, internal_guard_id


def _district() -> str:
    return f"游标区{secrets.token_hex(3)}"


def _walk(api: Api, path: str, params: dict[str, Any], *, limit: int = 2,
          param: str = "cursor", field: str = "next_cursor"
          ) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """Every page of a list, following its cursors; the pages and the cursors given."""
    pages: list[list[dict[str, Any]]] = []
    cursors: list[str] = []
    cursor: str | None = None
    while True:
        asked = {**params, "limit": limit, **({param: cursor} if cursor is not None else {})}
        resp = api.get(path, params=asked)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        pages.append(body["items"])
        cursor = body[field]
        if cursor is None:
            return pages, cursors
        assert len(pages) < 50, "the cursor does not move on"
        cursors.append(cursor)


def _assert_opaque(runtime: Runtime, list_name: str, cursor: Any, internal: int) -> None:
    """``cursor`` names ``internal`` on ``list_name`` without showing it."""
    assert isinstance(cursor, str) and not cursor.lstrip("-").isdigit()
    assert len(cursor) == TOKEN_CHARS  # the same length whatever the id
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert struct.pack(">Q", internal) not in raw and struct.pack("<Q", internal) not in raw
    assert str(internal) != cursor
    # Only the service reads it back.
    assert PageCursors.from_settings(runtime.settings).open(list_name, cursor) == internal


def _assert_pages(pages: list[list[dict[str, Any]]], expected: list[Any], limit: int) -> None:
    ids = [item["id"] for page in pages for item in page]
    assert len(ids) == len(set(ids)), "pages overlap"
    assert ids == expected  # every row, in the list's order
    assert len(pages) >= 2 and all(len(page) == limit for page in pages[:-1])


def test_the_guard_list_pages_without_showing_internal_ids(regulator: Api,
                                                           runtime: Runtime) -> None:
    company = regulator.make_company()
    made = [regulator.make_guard(company["id"])["id"] for _ in range(5)]
    pages, cursors = _walk(regulator, "/v1/guards", {"company_id": company["id"]})
    _assert_pages(pages, made, 2)
    assert len(cursors) == 2  # 2 + 2 + 1
    for page, cursor in zip(pages, cursors, strict=False):
        _assert_opaque(runtime, "guards", cursor, internal_guard_id(runtime, page[-1]["id"]))


def test_the_company_list_pages_opaquely(regulator: Api, runtime: Runtime) -> None:
    district = _district()
    made = [regulator.make_company(district=district)["id"] for _ in range(4)]
    pages, cursors = _walk(regulator, "/v1/companies", {"district": district}, limit=3)
    _assert_pages(pages, made, 3)
    # A full last page still has a successor, which is empty.
    pages, cursors = _walk(regulator, "/v1/companies", {"district": district}, limit=2)
    assert [len(p) for p in pages] == [2, 2, 0]
    for page, cursor in zip(pages, cursors, strict=False):
        _assert_opaque(runtime, "companies", cursor, int(page[-1]["id"]))


def test_the_reserve_roster_and_client_lists_page_opaquely(regulator: Api,
                                                           runtime: Runtime) -> None:
    district = _district()
    company = regulator.make_company()
    guards = [regulator.make_guard(company["id"])["id"] for _ in range(3)]
    members = []
    for guard in guards:
        resp = regulator.put(f"/v1/reserve/members/{guard}",
                             json={"district": district, "skills": ["first-aid"]})
        assert resp.status_code == 200, resp.text
        members.append(resp.json()["id"])
    pages, cursors = _walk(regulator, "/v1/reserve/members", {"district": district})
    _assert_pages(pages, members, 2)
    assert [m["guard_id"] for page in pages for m in page] == guards
    for page, cursor in zip(pages, cursors, strict=False):
        _assert_opaque(runtime, "reserve-members", cursor, int(page[-1]["id"]))

    clients = []
    for _ in range(5):
        resp = regulator.post("/v1/clients", json={
            "name": f"客户{secrets.token_hex(2)}", "kind": "school", "district": district})
        assert resp.status_code == 201, resp.text
        clients.append(resp.json()["id"])
    pages, cursors = _walk(regulator, "/v1/clients", {"district": district})
    _assert_pages(pages, clients, 2)
    for page, cursor in zip(pages, cursors, strict=False):
        _assert_opaque(runtime, "clients", cursor, int(page[-1]["id"]))


def _invalid_cursor(resp: Any) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"] == "/problems/invalid-cursor" and body["status"] == 422


def _tampered(cursor: str) -> list[str]:
    """The cursor with one character changed (at several places), cut short, lengthened."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    out = []
    for i in (0, 11, 16, 20, len(cursor) - 1):
        other = alphabet[(alphabet.index(cursor[i]) + 1) % len(alphabet)]
        out.append(cursor[:i] + other + cursor[i + 1:])
    return [*out, cursor[:-1], cursor + "A", cursor[:-4]]


def test_a_tampered_forged_or_foreign_cursor_is_a_problem(regulator: Api,
                                                          runtime: Runtime) -> None:
    company = regulator.make_company()
    for _ in range(3):
        regulator.make_guard(company["id"])
    guards_page = regulator.get("/v1/guards", params={"company_id": company["id"],
                                                      "limit": 2}).json()
    cursor = guards_page["next_cursor"]
    assert regulator.get("/v1/guards", params={"company_id": company["id"], "limit": 2,
                                               "cursor": cursor}).status_code == 200
    for bad in _tampered(cursor):
        _invalid_cursor(regulator.get("/v1/guards", params={
            "company_id": company["id"], "cursor": bad}))
    # What a cursor used to be (a row id) and other guesses.
    last = internal_guard_id(runtime, guards_page["items"][-1]["id"])
    for guess in (str(last), "0", "-1", "abc", "%" * TOKEN_CHARS, "A" * TOKEN_CHARS,
                  base64.urlsafe_b64encode(struct.pack(">Q", last)).decode()):
        _invalid_cursor(regulator.get("/v1/guards", params={"cursor": guess}))
    # A real cursor of one list is refused by every other.
    for path in ("/v1/companies", "/v1/bans", "/v1/audit/events", "/v1/clients",
                 "/v1/reserve/members", "/v1/complaints", "/v1/certificate-requests",
                 "/v1/biometrics/reviews", "/v1/exam-refusals", "/v1/public/lists/red"):
        _invalid_cursor(regulator.get(path, params={"cursor": cursor}))
    # The same position sealed for the companies list is the companies list's only.
    as_companies = PageCursors.from_settings(runtime.settings).seal("companies", last)
    assert as_companies != cursor
    _invalid_cursor(regulator.get("/v1/guards", params={"cursor": as_companies}))
    assert regulator.get("/v1/companies", params={"cursor": as_companies}).status_code == 200
    # Overlong text is refused before it is read (the validation problem, still 422).
    resp = regulator.get("/v1/guards", params={"cursor": "A" * 5000})
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_the_inbox_and_the_retention_report_take_opaque_cursors_too(
        regulator: Api, company: dict[str, Any]) -> None:
    inbox = f"/v1/companies/{company['id']}/notifications"
    assert regulator.get(inbox, params={"before": ""}).status_code == 200  # the first page
    _invalid_cursor(regulator.get(inbox, params={"before": "5"}))
    _invalid_cursor(regulator.get("/v1/retention/report", params={"after": "5"}))
    first = regulator.get("/v1/retention/report", params={"limit": 1}).json()
    assert first["next_after"] is None or not str(first["next_after"]).isdigit()


def test_a_cursor_does_not_open_under_another_secret(runtime: Runtime) -> None:
    ours = PageCursors.from_settings(runtime.settings)
    theirs = PageCursors.from_settings(Settings(
        mode="test", apikey_pepper=SecretStr("another-pepper-" + "x" * 20)))
    cursor = ours.seal("guards", 12345)
    assert ours.seal("guards", 12345) == cursor  # one position, one cursor
    assert ours.seal("guards", 12346) != cursor
    assert ours.open("guards", cursor) == 12345
    with pytest.raises(InvalidCursor):
        theirs.open("guards", cursor)
    with pytest.raises(InvalidCursor):
        ours.open("bans", cursor)


def test_the_openapi_document_says_cursors_are_strings() -> None:
    # Built without its lifespan: the document needs the routes, not the database.
    spec = create_app(Settings(mode="test")).openapi()
    seen = 0
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                if p["in"] == "query" and p["name"] in ("cursor", "before", "after"):
                    seen += 1
                    types = {b.get("type") for b in p["schema"].get("anyOf", [p["schema"]])}
                    assert types <= {"string", "null"}, (method, path, p)
    assert seen >= 16
    for name, schema in spec["components"]["schemas"].items():
        for field in ("next_cursor", "next_before", "next_after"):
            prop = schema.get("properties", {}).get(field)
            if prop is not None:
                types = {b.get("type") for b in prop.get("anyOf", [prop])}
                assert types <= {"string", "null"}, (name, field, prop)
