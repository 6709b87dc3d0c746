"""Shared credit data (notice §2 §12 §14): what the industry association and partner
agencies may read, field by field; procurement answers; public red and black lists;
credit export.

Each read-only role has an allow-list of company fields (``SHARED_FIELDS``); a view is
built from the allow-list and nothing else, so a field added to the company record is
not shared until someone adds it here. None of them carries personal data: guards are
only ever counted. List reasons are written by people, so digits runs that could be an
ID or phone number are blanked before any reason leaves the registry.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from registry import labour_repository as labour_repo
from registry import regulation
from registry import shared_data_repository as repo
from registry.db import Cursor
from registry.errors import InvalidInput
from registry.validation import validate_credit_code

_COMMON = ("credit_code", "name", "kind", "district", "status")
SHARED_FIELDS: dict[str, tuple[str, ...]] = {
    "association": (*_COMMON, "credit_grade", "credit_total", "red_list", "black_list",
                    "abnormal_operations", "lists", "treatment"),
    "market_regulation": (*_COMMON, "licence_number", "credit_grade", "black_list",
                          "abnormal_operations", "lists", "treatment"),
    "human_resources": (*_COMMON, "headcount", "without_contract", "without_insurance"),
    "tax": (*_COMMON, "headcount"),
}
SHARED_FIELDS["regulator"] = tuple(dict.fromkeys(
    f for fields in list(SHARED_FIELDS.values()) for f in fields))
MAX_BATCH = 100
# 7+ digits in a row (ID numbers, phones), or a phone written in groups (139-1234-5678).
_DIGITS = re.compile(r"\+?\d{7,}[Xx]?|\d{3,4}[- ]\d{3,4}[- ]\d{4}")


def redact(text: str) -> str:
    """Blank digit runs long enough to be an ID or phone number."""
    return _DIGITS.sub("[redacted]", text)


def treatment(company: dict[str, Any]) -> dict[str, Any]:
    """What the lists and the grade do together (§12): the black list keeps the ledger's
    grade but imposes the strictest treatment."""
    grade = str(company["credit_grade"])
    if company["status"] != "active":
        level, text = "licence", f"licence {company['status']}: no security services"
    elif company["black_list"]:
        level, text = "strictest", ("black list: no new service projects or contracts; new "
                                    "guard enrollments held for regulator approval")
    elif grade in regulation.CREDIT_BLOCKS_PROJECTS:
        level, text = "restricted", f"credit grade {grade}: no new service projects"
    elif company["abnormal_operations"]:
        level, text = "watch", "abnormal-operations list: under closer supervision"
    elif company["red_list"]:
        level, text = "commended", "red list"
    else:
        level, text = "normal", "no restriction"
    return {"level": level, "summary": text,
            "may_take_new_projects": level in ("normal", "watch", "commended"),
            "enrollments_held": level == "strictest"}


def _full_views(cur: Cursor, companies: list[dict[str, Any]], year: int
                ) -> list[dict[str, Any]]:
    ids = [int(c["id"]) for c in companies]
    lists: dict[int, list[dict[str, Any]]] = {}
    for entry in repo.open_lists(cur, ids):
        lists.setdefault(int(entry["company_id"]), []).append({
            "list": entry["list"], "reason": redact(str(entry["reason"])),
            "added_on": entry["added_on"]})
    totals = repo.credit_totals(cur, ids, year)
    counts = labour_repo.company_counts(cur, ids)
    out = []
    for c in companies:
        cid = int(c["id"])
        n = counts.get(cid)
        out.append({**c, "credit_total": totals.get(cid, regulation.CREDIT_START),
                    "lists": lists.get(cid, []), "treatment": treatment(c),
                    "headcount": int(n["headcount"]) if n else 0,
                    "without_contract": int(n["without_contract"]) if n else 0,
                    "without_insurance": int(n["without_insurance"]) if n else 0})
    return out


def shared_companies(cur: Cursor, *, role: str, now: dt.datetime, after_id: int, limit: int,
                     district: str | None, credit_code: str | None) -> list[dict[str, Any]]:
    fields = SHARED_FIELDS[role]
    code = validate_credit_code(credit_code) if credit_code else None
    rows = repo.companies_page(cur, after_id=after_id, limit=limit, district=district,
                               credit_code=code)
    views = _full_views(cur, rows, now.year)
    return [{"id": v["id"], **{f: v[f] for f in fields}} for v in views]


def procurement_items(cur: Cursor, *, codes: list[str], now: dt.datetime
                      ) -> list[dict[str, Any]]:
    """What a procurement body may rely on, per credit code asked (in the order asked)."""
    if not 0 < len(codes) <= MAX_BATCH:
        raise InvalidInput(f"ask for 1 to {MAX_BATCH} credit codes", field="credit_codes")
    checked = [validate_credit_code(c) for c in codes]
    if len(set(checked)) != len(checked):
        raise InvalidInput("a credit code is repeated", field="credit_codes")
    found = {v["credit_code"]: v for v in _full_views(
        cur, repo.companies_by_codes(cur, checked), now.year)}
    items = []
    for code in checked:
        v = found.get(code)
        if v is None:
            items.append({"credit_code": code, "registered": False})
            continue
        items.append({"credit_code": code, "registered": True, "name": v["name"],
                      "kind": v["kind"], "status": v["status"],
                      "credit_grade": v["credit_grade"], "credit_total": v["credit_total"],
                      "year": now.year, "red_list": v["red_list"],
                      "black_list": v["black_list"],
                      "abnormal_operations": v["abnormal_operations"],
                      "treatment": v["treatment"]})
    return items


def public_list(cur: Cursor, *, lst: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    if lst not in ("red", "black"):
        raise InvalidInput("the public lists are red and black", field="list_name")
    return [{**r, "reason": redact(str(r["reason"]))}
            for r in repo.list_members(cur, lst, after_id=after_id, limit=limit)]


EXPORT_FIELDS = ("credit_code", "name", "kind", "district", "status", "credit_grade",
                 "credit_total", "red_list", "black_list", "abnormal_operations")


def export_rows(cur: Cursor, *, now: dt.datetime, year: int | None) -> list[dict[str, Any]]:
    """Every company's credit data for ``year`` (default this year), in id order."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = repo.companies_page(cur, after_id=after, limit=1000, district=None,
                                   credit_code=None)
        if not page:
            return out
        for v in _full_views(cur, page, year or now.year):
            out.append({f: v[f] for f in EXPORT_FIELDS})
        after = int(page[-1]["id"])


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell that a spreadsheet will not run: text starting with = + - @ tab or CR is
    prefixed with an apostrophe (OWASP's CSV-injection advice)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # a number is data, never a formula
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
