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
