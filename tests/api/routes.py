"""What every route allows, as the product decided it; tests compare the app to this.

A new endpoint fails the role-matrix test until it is declared here.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

R, O, C, G = "regulator", "company_operator", "checkpoint_officer", "guard"
T, A, E = "training_unit", "skill_assessor", "exam_staff"
PUBLIC: frozenset[str] = frozenset()

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/v1/apikeys"): frozenset({R}),
    ("GET", "/v1/apikeys"): frozenset({R}),
    ("DELETE", "/v1/apikeys/{principal_id}"): frozenset({R}),
    ("GET", "/v1/audit/events"): frozenset({R}),
    ("GET", "/v1/jobs"): frozenset({R}),
    ("GET", "/v1/audit/verify"): frozenset({R}),
    ("POST", "/v1/companies"): frozenset({R}),
    ("GET", "/v1/companies"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}"): frozenset({R, O}),
    ("PATCH", "/v1/companies/{company_id}"): frozenset({R}),
    ("GET", "/v1/companies/{company_id}/history"): frozenset({R, O}),
    ("POST", "/v1/guards"): frozenset({R, O}),
    ("GET", "/v1/guards"): frozenset({R, O}),
    ("GET", "/v1/guards/{guard_id}"): frozenset({R, O, G}),
    ("PATCH", "/v1/guards/{guard_id}"): frozenset({R, O}),
    ("GET", "/v1/guards/{guard_id}/employment"): frozenset({R, O, G}),
    ("POST", "/v1/guards/{guard_id}/employment/end"): frozenset({R, O}),
    ("POST", "/v1/guards/{guard_id}/background-checks"): frozenset({R}),
    ("GET", "/v1/guards/{guard_id}/background-checks"): frozenset({R}),
    ("POST", "/v1/bans"): frozenset({R}),
    ("GET", "/v1/bans"): frozenset({R}),
    ("POST", "/v1/bans/{ban_id}/lift"): frozenset({R}),
    ("POST", "/v1/guards/{guard_id}/face"): frozenset({R, O}),
    ("GET", "/v1/guards/{guard_id}/face/photo"): frozenset({R, O}),
    # Officers reach a guard only through a certificate number, never a guard id (issue 14).
    ("POST", "/v1/guards/{guard_id}/face/verify"): frozenset({R, O}),
    ("POST", "/v1/certificates/{number}/face/verify"): frozenset({R, O, C}),
    ("GET", "/v1/guards/{guard_id}/biometrics"): frozenset({R, O}),
    ("GET", "/v1/biometrics/reviews"): frozenset({R}),
    ("POST", "/v1/guards/{guard_id}/fingers/{position}"): frozenset({R, O}),
    ("POST", "/v1/guards/{guard_id}/fingers/verify"): frozenset({R, O}),
    ("POST", "/v1/certificates/{number}/fingers/verify"): frozenset({R, O, C}),
    ("POST", "/v1/biometrics/reviews/{review_id}/decision"): frozenset({R}),
    # webreg: the evidence of a held duplicate (templates decrypted for this one request)
    ("GET", "/v1/biometrics/reviews/{review_id}/evidence"): frozenset({R}),
    ("GET", "/v1/biometrics/reviews/{review_id}/portraits/{guard_id}"): frozenset({R}),
    # webreg: read endpoints of the regulator console (api/routers/console.py)
    ("GET", "/v1/console/overview"): frozenset({R}),
    ("GET", "/v1/console/guards"): frozenset({R}),
    ("GET", "/v1/console/guards/{guard_id}/bans"): frozenset({R}),
    ("GET", "/v1/console/keys"): frozenset({R}),
    ("GET", "/v1/console/exports/{what}.csv"): frozenset({R}),
    ("POST", "/v1/guards/{guard_id}/certificate"): frozenset({R}),
    ("POST", "/v1/guards/{guard_id}/certificate-requests"): frozenset({R, O}),
    ("GET", "/v1/certificate-requests"): frozenset({R, O}),
    ("GET", "/v1/guards/{guard_id}/eligibility"): frozenset({R, O}),
    ("POST", "/v1/certificate-requests/{request_id}/decision"): frozenset({R}),
    ("GET", "/v1/guards/{guard_id}/certificates"): frozenset({R, O, G}),
    ("GET", "/v1/certificates/{number}"): frozenset({R, O, G}),
    ("GET", "/v1/certificates/{number}/qr.{fmt}"): frozenset({R, O, G}),
    ("POST", "/v1/certificates/{number}/revoke"): frozenset({R, O}),
    ("POST", "/v1/certificates/{number}/suspend"): frozenset({R, O}),
    ("POST", "/v1/certificates/{number}/reinstate"): frozenset({R}),
    ("GET", "/v1/me/certificate"): frozenset({G}),
    ("GET", "/v1/me/certificate/qr.{fmt}"): frozenset({G}),
    ("POST", "/v1/me/device-key"): frozenset({G}),
    ("POST", "/v1/me/hire-code"): frozenset({G}),
    ("POST", "/v1/guards/{guard_id}/device-key"): frozenset({R}),
    ("POST", "/v1/keys/{kid}/compromise"): frozenset({R}),
    ("POST", "/v1/keys/{kid}/reissue"): frozenset({R}),
    ("GET", "/v1/keys/{kid}/compromise-report"): frozenset({R}),
    ("GET", "/v1/trust-list"): PUBLIC,
    ("GET", "/v1/trust-list.json"): PUBLIC,
    ("GET", "/v1/status-lists"): PUBLIC,
    ("GET", "/v1/status-lists/{shard}"): PUBLIC,
    ("POST", "/v1/verifications"): frozenset({R, C}),
    ("POST", "/v1/verifications/image"): frozenset({R, C}),
    ("POST", "/v1/companies/{company_id}/lists"): frozenset({R}),
    ("POST", "/v1/companies/{company_id}/lists/{list_name}/remove"): frozenset({R}),
    ("GET", "/v1/companies/{company_id}/lists"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/credit-events"): frozenset({R}),
    ("GET", "/v1/companies/{company_id}/credit"): frozenset({R, O}),
    ("POST", "/v1/credit-entries/{entry_id}/objection"): frozenset({R, O}),
    ("POST", "/v1/credit-entries/{entry_id}/ruling"): frozenset({R}),
    ("POST", "/v1/companies/{company_id}/service-projects"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/service-projects"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/licence/{op}"): frozenset({R}),
    ("GET", "/v1/service-policy"): PUBLIC,
    ("PUT", "/v1/service-policy"): frozenset({R}),
    ("POST", "/v1/guards/{guard_id}/qualifications"): frozenset({R}),
    ("GET", "/v1/guards/{guard_id}/services/{service_name}"): frozenset({R, O}),
    ("GET", "/v1/certificates/{number}/services/{service_name}"): frozenset({R, O, C}),
    ("POST", "/v1/background-checks/import"): frozenset({R}),
    ("POST", "/v1/guards/import"): frozenset({R, O}),
    ("GET", "/v1/stats/capture-rate"): frozenset({R, O}),
    ("GET", "/v1/stats/recent-revocations"): frozenset({R}),
    ("GET", "/v1/public/companies"): PUBLIC,
    ("GET", "/v1/public/certificates/{number}"): PUBLIC,
    ("GET", "/v1/me/card.pdf"): frozenset({G}),
    ("GET", "/v1/guards/{guard_id}/card.pdf"): frozenset({R, O}),
    # Accounts for people. Sign-in and activation are public (they are how one gets in);
    # the session endpoints take the session cookie only: 401 without it, whatever key
    # is sent (tests/api/test_accounts.py).
    ("POST", "/v1/session"): PUBLIC,
    ("GET", "/v1/session"): PUBLIC,
    ("DELETE", "/v1/session"): PUBLIC,
    ("POST", "/v1/session/password"): PUBLIC,
    ("GET", "/v1/sessions"): PUBLIC,
    ("DELETE", "/v1/sessions/{public_id}"): PUBLIC,
    ("POST", "/v1/accounts"): frozenset({R, O}),
    ("GET", "/v1/accounts"): frozenset({R, O}),
    ("POST", "/v1/accounts/{account_id}/reset"): frozenset({R, O}),
    ("POST", "/v1/accounts/{account_id}/disable"): frozenset({R, O}),
    ("POST", "/v1/guards/{guard_id}/activation-codes"): frozenset({R, O}),
    ("POST", "/v1/accounts/activate"): PUBLIC,
    # Supervision (notice §2): the published plan and results are public on purpose.
    ("POST", "/v1/inspectors"): frozenset({R}),
    ("GET", "/v1/inspectors"): frozenset({R}),
    ("POST", "/v1/inspection-plans"): frozenset({R}),
    ("POST", "/v1/inspection-plans/{plan_id}/commitments"): frozenset({R}),
    ("POST", "/v1/inspection-plans/{plan_id}/reveals"): frozenset({R}),
    ("GET", "/v1/public/inspection-plans/{plan_id}"): PUBLIC,
    ("POST", "/v1/inspections/{inspection_id}/result"): frozenset({R}),
    ("GET", "/v1/public/inspections"): PUBLIC,
    ("GET", "/v1/supervision-policy"): PUBLIC,
    ("PUT", "/v1/supervision-policy"): frozenset({R}),
    ("POST", "/v1/companies/{company_id}/annual-reports"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/annual-reports"): frozenset({R, O}),
    ("POST", "/v1/annual-reports/{report_id}/review"): frozenset({R}),
    ("GET", "/v1/annual-reports/missing"): frozenset({R}),
    ("POST", "/v1/public/complaints"): PUBLIC,
    ("GET", "/v1/public/complaints/{tracking_code}"): PUBLIC,
    ("GET", "/v1/complaints"): frozenset({R}),
    ("GET", "/v1/complaints/{complaint_id}"): frozenset({R}),
    ("GET", "/v1/complaints/{complaint_id}/attachments/{attachment_id}"): frozenset({R}),
    ("POST", "/v1/complaints/{complaint_id}/triage"): frozenset({R}),
    ("POST", "/v1/complaints/{complaint_id}/assign"): frozenset({R}),
    ("POST", "/v1/complaints/{complaint_id}/notes"): frozenset({R}),
    ("POST", "/v1/complaints/{complaint_id}/close"): frozenset({R}),
    ("GET", "/v1/companies/{company_id}/notifications"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/notifications/{notification_id}/read"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/webhooks"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/webhooks"): frozenset({R, O}),
    ("DELETE", "/v1/companies/{company_id}/webhooks/{webhook_id}"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/webhooks/{webhook_id}/deliveries"): frozenset({R, O}),
    ("GET", "/v1/training/courses"): PUBLIC,
    ("POST", "/v1/training/sessions"): frozenset({R, T}),
    ("GET", "/v1/training/sessions"): frozenset({R, T}),
    ("POST", "/v1/training/sessions/{session_id}/attendance"): frozenset({R, T}),
    ("GET", "/v1/guards/{guard_id}/training"): frozenset({R, O, G}),
    ("GET", "/v1/training/rotation-due"): frozenset({R, O}),
    ("POST", "/v1/skill-evaluations"): frozenset({R, A}),
    ("GET", "/v1/guards/{guard_id}/skill-evaluations"): frozenset({R, O, G}),
    # The unified exam (issue 15, exam15): api/routers/exams.py.
    ("POST", "/v1/exam-sessions"): frozenset({R, E}),
    ("GET", "/v1/exam-sessions"): PUBLIC,
    ("POST", "/v1/exam-sessions/{session_id}/applications"): PUBLIC,
    ("POST", "/v1/exam-sessions/{session_id}/registrations"): frozenset({R, O}),
    ("GET", "/v1/exam-sessions/{session_id}/registrations"): frozenset({R, E}),
    ("GET", "/v1/exam-refusals"): frozenset({R}),
    ("POST", "/v1/exam-registrations/lookup"): frozenset({R, E}),
    ("GET", "/v1/exam-registrations/{registration_id}"): frozenset({R, E}),
    ("POST", "/v1/exam-registrations/{registration_id}/face"): frozenset({R, E}),
    ("POST", "/v1/exam-registrations/{registration_id}/fingers/{position}"): frozenset({R, E}),
    ("GET", "/v1/exam-registrations/{registration_id}/ticket.pdf"): frozenset({R, E}),
    ("POST", "/v1/public/exam-ticket"): PUBLIC,
    ("POST", "/v1/exam-attendance"): frozenset({R, E}),
    ("POST", "/v1/exam-sessions/{session_id}/results"): frozenset({R, E}),
    ("POST", "/v1/exam-sessions/{session_id}/results/import"): frozenset({R, E}),
    ("POST", "/v1/guards/{guard_id}/exam-results"): frozenset({R}),
    ("GET", "/v1/guards/{guard_id}/exams"): frozenset({R, O, G}),
    ("GET", "/v1/transparency/checkpoint"): PUBLIC,
    ("GET", "/v1/transparency/key"): PUBLIC,
    ("GET", "/v1/transparency/proof/inclusion"): PUBLIC,
    ("GET", "/v1/transparency/proof/consistency"): PUBLIC,
    ("GET", "/v1/transparency/leaves"): PUBLIC,
    # Supervision, second part (issue 16): api/routers/supervision2.py.
    ("GET", "/v1/reviews"): frozenset({R}),
    ("POST", "/v1/enrollment-holds/{hold_id}/decision"): frozenset({R}),
    ("POST", "/v1/clients"): frozenset({R, O}),
    ("GET", "/v1/clients"): frozenset({R}),
    ("POST", "/v1/companies/{company_id}/contracts"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/deployments"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/deployments"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/deployments/{deployment_id}/end"): frozenset({R, O}),
    ("GET", "/v1/coverage"): frozenset({R}),
    ("POST", "/v1/companies/{company_id}/firearms"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/firearms/{firearm_id}/events"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/ammunition"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/vault-records"): frozenset({R, O}),
    ("POST", "/v1/companies/{company_id}/drills"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/armed-escort"): frozenset({R, O}),
    ("GET", "/v1/armed-escort/candidates"): frozenset({R}),
    ("GET", "/v1/supervision-alerts"): frozenset({R}),
    ("PUT", "/v1/guards/{guard_id}/labour"): frozenset({R, O}),
    ("GET", "/v1/companies/{company_id}/labour-report"): frozenset({R, O}),
    ("GET", "/v1/shared/companies"): frozenset({R, "association", "market_regulation",
                                                "human_resources", "tax"}),
    ("POST", "/v1/procurement/credit-statements"): PUBLIC,
    ("GET", "/v1/procurement/statement-keys"): PUBLIC,
    ("GET", "/v1/public/lists/{list_name}"): PUBLIC,
    ("GET", "/v1/credit-export.json"): frozenset({R, "association", "market_regulation"}),
    ("GET", "/v1/credit-export.csv"): frozenset({R, "association", "market_regulation"}),
    ("PUT", "/v1/reserve/members/{guard_id}"): frozenset({R}),
    ("GET", "/v1/reserve/members"): frozenset({R}),
    ("POST", "/v1/reserve/call-ups"): frozenset({R}),
    ("GET", "/v1/reserve/call-ups/{callup_id}"): frozenset({R}),
    ("POST", "/v1/reserve/call-ups/{callup_id}/close"): frozenset({R}),
    ("GET", "/v1/me/call-ups"): frozenset({G}),
    ("POST", "/v1/me/call-ups/{callup_id}/acknowledge"): frozenset({G}),
    ("POST", "/v1/me/incidents"): frozenset({G}),
    ("GET", "/v1/incidents"): frozenset({R, C}),
    ("POST", "/v1/incidents/{incident_id}/acknowledge"): frozenset({R, C}),
    # card18: the printed card as its own credential, the checkpoint policy, the live
    # face check at the checkpoint (issue 18).
    ("POST", "/v1/guards/{guard_id}/cards"): frozenset({R, O}),
    ("GET", "/v1/guards/{guard_id}/cards"): frozenset({R, O, G}),
    ("GET", "/v1/verifier-policy"): PUBLIC,
    ("POST", "/v1/verifications/face-check"): frozenset({R, C}),
    # retain15: the person's own archive; the retention report
    ("GET", "/v1/me/archive"): frozenset({G}),
    ("GET", "/v1/retention/report"): frozenset({R}),
}

# Valid bodies for company-scoped writes, so the isolation test reaches the handler.


def _tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(out, format="JPEG")
    return out.getvalue()


_JPEG = _tiny_jpeg()
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/guards/{guard_id}"): {"json": {"education": "high school"}},
    ("POST", "/v1/guards/{guard_id}/employment/end"): {"json": {"reason": "left"}},
    ("POST", "/v1/guards/{guard_id}/face"): {"files": {"photo": ("p.jpg", _JPEG, "image/jpeg")}},
    ("POST", "/v1/guards/{guard_id}/certificate-requests"): {"json": {"note": "please"}},
    ("POST", "/v1/guards/{guard_id}/cards"): {"json": {}},  # card18
    ("POST", "/v1/guards/{guard_id}/device-key"): {"json": {
        "x": "qEqytJJYPzGQeyMBk3ENwk5KtkuSZszdbKwRHLmLQnE",
        "y": "0BcBDMPMGT9j1S5CAzCp-2JdBVQceruyNd0d9QGSU-I"}},
    ("POST", "/v1/guards/{guard_id}/fingers/{position}"): {
        "files": {"image": ("f.png", _JPEG, "image/png")}},
    ("POST", "/v1/guards/{guard_id}/fingers/verify"): {
        "files": {"image": ("f.png", _JPEG, "image/png")}},
    ("POST", "/v1/companies/{company_id}/service-projects"): {"json": {
        "name": "p", "service": "ordinary-patrol", "client": "c", "starts_on": "2026-01-01"}},
    ("POST", "/v1/guards/{guard_id}/face/verify"): {
        "files": {"photo": ("p.jpg", _JPEG, "image/jpeg")}},
    ("POST", "/v1/guards/{guard_id}/activation-codes"): {"json": {"note": "none needed"}},
    ("POST", "/v1/companies/{company_id}/notifications/{notification_id}/read"): {"json": {}},
    ("POST", "/v1/companies/{company_id}/webhooks"): {"json": {"url": "https://example.org/h"}},
    ("POST", "/v1/companies/{company_id}/annual-reports"): {"json": {
        "year": 2025, "headcount": 10, "labour_contracts": 10, "insured": 9,
        "training_hours": 400, "incidents": 0}},
    ("POST", "/v1/companies/{company_id}/contracts"): {"json": {
        "client_id": 1, "service": "ordinary-patrol", "name": "c", "starts_on": "2026-01-01"}},
    ("POST", "/v1/companies/{company_id}/deployments"): {"json": {
        "project_id": 1, "guard_id": "00000000-0000-4000-8000-000000000001", "post": "gate",
        "starts_on": "2026-01-01"}},
    ("POST", "/v1/companies/{company_id}/deployments/{deployment_id}/end"): {"json": None},
    ("POST", "/v1/companies/{company_id}/firearms"): {"json": {
        "serial": "X1", "model": "m"}},
    ("POST", "/v1/companies/{company_id}/firearms/{firearm_id}/events"): {"json": {
        "kind": "inspection", "detail": "ok"}},
    ("POST", "/v1/companies/{company_id}/ammunition"): {"json": {
        "calibre": "9mm", "delta": 10, "reason": "delivery"}},
    ("POST", "/v1/companies/{company_id}/vault-records"): {"json": {
        "vault": "v", "kind": "check", "detail": "ok"}},
    ("POST", "/v1/companies/{company_id}/drills"): {"json": {
        "held_on": "2026-01-01", "scenario": "robbery", "participants": 5}},
    ("PUT", "/v1/guards/{guard_id}/labour"): {"json": {
        "labour_contract": "none", "social_insurance": "none"}},
}


def declared_roles(route: APIRoute) -> frozenset[str] | None:
    """The roles a route's ``require`` dependency allows; None if it has none (public)."""
    for dep in route.dependant.dependencies:
        allowed = getattr(dep.call, "allowed_roles", None)
        if allowed is not None:
            return frozenset(r.value for r in allowed)
        for sub in dep.dependencies:
            allowed = getattr(sub.call, "allowed_roles", None)
            if allowed is not None:
                return frozenset(r.value for r in allowed)
    return None


def api_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """Every documented route, also inside included routers (FastAPI nests them)."""
    out: list[tuple[str, str, APIRoute]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                if route.include_in_schema:
                    for method in sorted(route.methods):
                        out.append((method, prefix + route.path, route))
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(app.routes, "")
    return out
