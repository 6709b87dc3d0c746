"""The OpenAPI document describes every response (issue 19).

Every 2xx response of every operation either describes a JSON body (an object with
declared properties, or an array of such; list fields inside it say what they hold), or
declares the media type of what it returns (a PDF, an image, a CSV file, a page), or
declares that it has no body (204).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from registry.settings import Settings

JSON = "application/json"


def _spec() -> dict[str, Any]:
    # The routes and their models are fixed when the app is built; the runtime (and its
    # database) starts only with the lifespan, which building the document does not need.
    return dict(create_app(Settings(mode="test")).openapi())


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
        seen += 1
    return schema


def _problems(spec: dict[str, Any], schema: dict[str, Any], where: str,
              depth: int = 0) -> list[str]:
    """What is undescribed in ``schema``: an empty schema, an object without properties,
    an array without item schema (one level into properties)."""
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if _resolve(spec, b).get("type") != "null"]
            out: list[str] = []
            for b in branches:
                out += _problems(spec, b, where, depth)
            return out
    if "allOf" in schema:
        return [p for b in schema["allOf"] for p in _problems(spec, b, where, depth)]
    kind = schema.get("type")
    if kind == "array":
        if "items" not in schema:
            return [f"{where}: array without items"]
        return _problems(spec, schema["items"], f"{where}[]", depth)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if not props and not schema.get("additionalProperties"):
            return [f"{where}: object without properties"]
        out = []
        if depth < 2:
            for name, sub in props.items():
                out += _problems(spec, sub, f"{where}.{name}", depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and depth < 2:
            out += _problems(spec, extra, f"{where}{{}}", depth + 1)
        return out
    if not schema or schema == {"title": schema.get("title")}:
        return [f"{where}: no schema"]
    return []


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = _spec()
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                ops.append((method.upper(), path, op))
    return ops


SPEC = _spec()
OPERATIONS = _operations()


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_success_response_is_described(method: str, path: str,
                                             op: dict[str, Any]) -> None:
    success = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    assert success, f"{method} {path}: no 2xx response declared"
    problems: list[str] = []
    for code, response in success.items():
        content = response.get("content") or {}
        if code == "204" or (not content and code in {"202", "204"}):
            continue
        if not content:
            problems.append(f"{code}: no content declared")
            continue
        for media, body in content.items():
            if media == JSON:
                schema = body.get("schema")
                if not schema:
                    problems.append(f"{code} {media}: no schema")
                else:
                    problems += _problems(SPEC, schema, f"{code}")
            elif media.startswith(("application/", "image/", "text/")):
                continue  # a declared binary or text type
            else:
                problems.append(f"{code}: undeclared media type {media}")
    assert not problems, f"{method} {path}: {problems}"


def test_the_walk_can_fail() -> None:
    spec = {"components": {"schemas": {"Empty": {"type": "object", "properties": {}},
                                       "Bag": {"type": "object", "properties": {
                                           "items": {"type": "array", "items": {}}}}}}}
    assert _problems(spec, {}, "x") == ["x: no schema"]
    assert _problems(spec, {"$ref": "#/components/schemas/Empty"}, "x")
    assert _problems(spec, {"$ref": "#/components/schemas/Bag"}, "x") == ["x.items[]: no schema"]
    assert _problems(spec, {"type": "object", "properties": {"a": {"type": "string"}}},
                     "x") == []


def test_the_spec_is_served(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["paths"] == SPEC["paths"]
