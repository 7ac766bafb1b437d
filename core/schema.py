"""OpenAPI postprocessing: every API operation documents the shared error responses (core.api's format)."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What is wrong, for a person to read."},
        "extra": {
            "type": "object",
            "additionalProperties": {},
            "description": "Details; field errors under `fields` as {field: [message, ...]}.",
        },
    },
    "required": ["message", "extra"],
}
ERROR_DESCRIPTIONS = {
    "400": "The request is invalid (field errors under extra.fields).",
    "401": "No credentials, or an unknown, revoked or expired API key.",
    "403": "The API key lacks the scope, or the staff member the permission.",
    "404": "No such object among those the caller may see (or no such page).",
    "422": "This Idempotency-Key was already used for a different request.",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
}


def document_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the 4xx answers every operation under /api/v1/ may give, so contract tests find none undocumented."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            codes = ["400", "401", "403", "404", "429"]
            if method == "post" and any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                codes.append("422")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"content": reference, "description": ERROR_DESCRIPTIONS[code]})
    return result


NO_NUL = "^[^\\u0000]*$"
# Cursors: base64 (DRF's, of an urlencoded position) or its URL-safe form (the timeline's); empty is the first page.
CURSOR_PATTERN = "^[A-Za-z0-9+/=_-]*$"


def _refuse_nul(schema: dict[str, Any]) -> None:
    """Every free text of a request (no enum, format or pattern of its own) says that NUL is refused, as the server
    does (core.middleware for query strings, DRF's CharField and the services for bodies)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("type") == "string" and not {"enum", "format", "pattern"} & set(node):
            node["pattern"] = NO_NUL
        stack.extend(node.get("properties", {}).values())
        stack.extend(value for key in ("items", "additionalProperties") if isinstance(value := node.get(key), dict))
        stack.extend(node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []))


def _resolve(result: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref", "")
    if reference.startswith("#/components/schemas/"):
        return result["components"]["schemas"][reference.rsplit("/", 1)[1]]
    return schema


def document_server_rules(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Make the schema say what the server enforces, so that a client (and schemathesis) can rely on it: NUL refused
    in free text, the Idempotency-Key's length, the cursor's form, and a bulk request's 1 to 1,000 items (each item
    is any JSON: the server checks each on its own and answers per item, 207)."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.setdefault("schema", {})
                if parameter["name"] == "Idempotency-Key":
                    schema.update({"maxLength": 255})
                elif parameter["name"] == "cursor":
                    schema["pattern"] = CURSOR_PATTERN
                if parameter["in"] != "header":
                    _refuse_nul(schema)
            if path.endswith("/bulk/"):
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    items = _resolve(result, content["schema"]).get("properties", {}).get("items", {})
                    content["schema"] = {
                        "type": "object",
                        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": items.get("maxItems"),
                                                 "items": {},
                                                 "description": "Each item as the single POST takes it."}},
                        "required": ["items"],
                    }
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _refuse_nul(schema)
    return result
