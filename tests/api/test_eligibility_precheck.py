"""The company's eligibility pre-check (GET /v1/guards/{id}/eligibility) and the issuance
request that refuses an ineligible guard, on the real stack: the company reads its own
wording, never the police-record reasons the regulator sees."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Api, capture_biometrics, make_principal, record_exam_pass


def _codes(body: dict[str, Any]) -> set[str]:
    return {r["code"] for r in body["reasons"]}


def test_a_new_guard_is_not_eligible_and_the_request_is_refused_with_the_reasons(
        regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    guard = operator.make_guard(company["id"])
    pre = operator.get(f"/v1/guards/{guard['id']}/eligibility")
    assert pre.status_code == 200, pre.text
    assert pre.json()["eligible"] is False
    assert {"no-face", "fingerprints-missing", "no-background-check",
            "no-exam-pass"} <= _codes(pre.json())
    refused = operator.post(f"/v1/guards/{guard['id']}/certificate-requests", json={})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert {r["code"] for r in refused.json()["reasons"]} == _codes(pre.json())
    listed = operator.get("/v1/certificate-requests").json()["items"]
    assert all(r["guard_id"] != guard["id"] for r in listed)


def test_police_record_reasons_stay_with_the_regulator(regulator: Api, runtime: Any,
                                                      client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    guard = operator.make_guard(company["id"])
    capture_biometrics(operator, regulator, guard["id"])
    record_exam_pass(regulator, guard["id"])
    # A failed check would clear the guard out (the company no longer sees them at all);
    # facts recorded with a check bar the certificate while the employment goes on.
    resp = regulator.post(f"/v1/guards/{guard['id']}/background-checks", json={
        "result": "clear", "reason": "盗窃罪 theft conviction", "intentional_crime": True,
        "administrative_detentions": 3, "checked_on": dt.date.today().isoformat()})
    assert resp.status_code == 201, resp.text
    full = regulator.get(f"/v1/guards/{guard['id']}/eligibility").json()
    assert {"criminal-record", "administrative-detentions"} <= _codes(full), full
    seen = operator.get(f"/v1/guards/{guard['id']}/eligibility")
    assert seen.status_code == 200
    assert _codes(seen.json()) == {"regulator-bar"}, seen.json()
    for word in ("criminal", "theft", "盗窃", "background-check-failed", "crime"):
        assert word not in seen.text
    refused = operator.post(f"/v1/guards/{guard['id']}/certificate-requests", json={})
    assert refused.status_code == 422
    assert "criminal" not in refused.text and "盗窃" not in refused.text
    assert [r["code"] for r in refused.json()["reasons"]] == ["regulator-bar"]


def test_an_eligible_guard_is_requested(regulator: Api, runtime: Any, client: Any) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    guard = operator.make_guard(company["id"])
    capture_biometrics(operator, regulator, guard["id"])
    record_exam_pass(regulator, guard["id"])
    regulator.post(f"/v1/guards/{guard['id']}/background-checks",
                   json={"result": "clear", "checked_on": dt.date.today().isoformat()})
    pre = operator.get(f"/v1/guards/{guard['id']}/eligibility").json()
    assert pre == {"guard_id": guard["id"], "eligible": True, "reasons": []}
    req = operator.post(f"/v1/guards/{guard['id']}/certificate-requests", json={"note": "x"})
    assert req.status_code == 201, req.text
    other = regulator.make_company()
    stranger = make_principal(runtime, client, "company_operator", company_id=other["id"])
    assert stranger.get(f"/v1/guards/{guard['id']}/eligibility").status_code == 404


def test_every_bar_has_a_company_wording_or_stays_with_the_regulator() -> None:
    """A new rule in the registry must be placed: worded for companies, or folded into
    'regulator-bar'; never passed through in the regulator's words by accident."""
    from api.usecases import issuing
    from registry.auth import Principal, Role
    from registry.service import BAR_MESSAGES

    for code in BAR_MESSAGES:
        assert (code in issuing.REGULATOR_ONLY) != (code in issuing.COMPANY_MESSAGES), code
    clerk = Principal(1, "clerk", Role.COMPANY_OPERATOR, 7, None)
    every = [{"code": c, "message": m} for c, m in BAR_MESSAGES.items()]
    shown = issuing.reasons_for(clerk, every)
    assert [r for r in shown if r["code"] == "regulator-bar"] == [issuing.REGULATOR_BAR]
    assert not {r["code"] for r in shown} & issuing.REGULATOR_ONLY
    assert all(r["message"] == issuing.COMPANY_MESSAGES.get(r["code"], r["message"])
               for r in shown)
    regulator = Principal(2, "reg", Role.REGULATOR, None, None)
    assert issuing.reasons_for(regulator, every) == every
