"""What every route allows, as the product decided it; tests compare the app to this.

A new endpoint fails the role-matrix test until it is declared here.
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

R, O, C, G = "regulator", "company_operator", "checkpoint_officer", "guard"
PUBLIC: frozenset[str] = frozenset()

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("POST", "/v1/apikeys"): frozenset({R}),
    ("GET", "/v1/apikeys"): frozenset({R}),
    ("DELETE", "/v1/apikeys/{principal_id}"): frozenset({R}),
    ("GET", "/v1/audit/events"): frozenset({R}),
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
}

# Valid bodies for company-scoped writes, so the isolation test reaches the handler.
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/guards/{guard_id}"): {"json": {"education": "high school"}},
    ("POST", "/v1/guards/{guard_id}/employment/end"): {"json": {"reason": "left"}},
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
