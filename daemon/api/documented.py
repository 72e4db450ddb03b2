"""Every error status a route can answer, written into the OpenAPI document.

Some statuses come from where a route sits rather than from its own code: the bearer
token check (401, 403), the body-size limit (413), request validation and the refusal
of unknown query parameters that every `/v1` route has (422), a row named by an id in
the path that does not exist (404), and the database being unavailable (503). They are
added here from each operation's own shape, so a route added later is documented as it
behaves; the
statuses only a route knows (409, a 404 of its own) it declares with
`problems.problem_responses`. Every error answer is `application/problem+json` with
the `ProblemOut` schema, FastAPI's own validation-error schema included, since slad
answers validation errors as problems too (`problems.install`).
"""

from __future__ import annotations

from typing import Any

from daemon.api.problems import MEDIA_TYPE, STATUS_MEANINGS, ProblemOut

PROBLEM_REF = {"$ref": f"#/components/schemas/{ProblemOut.__name__}"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def document_problems(schema: dict[str, Any]) -> None:
    """Add the statuses each operation's setting answers, and give every error answer
    of the document the problem+json media type and schema."""
    for path, path_item in schema["paths"].items():
        for operation in path_item.values():
            _add_statuses(path, operation)
            _problem_content(operation["responses"])
    for name in _FASTAPI_VALIDATION:  # nothing refers to them any longer
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def _add_statuses(path: str, operation: dict[str, Any]) -> None:
    statuses: set[int] = set()
    if "security" in operation:
        statuses |= {401, 403}
    if "requestBody" in operation:
        statuses |= {413, 422}
    if operation.get("parameters"):
        statuses.add(422)
    if any(
        p["in"] == "path" and p["name"].endswith("_id") for p in operation.get("parameters", [])
    ):
        statuses.add(404)
    if path.startswith("/v1/"):
        statuses |= {422, 503}  # `deps.StrictQuery`; `problems.install`
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        responses.setdefault(str(status), {"description": STATUS_MEANINGS[status]})
    if responses.get("422", {}).get("description") == "Validation Error":
        responses["422"]["description"] = STATUS_MEANINGS[422]


def _problem_content(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {MEDIA_TYPE: {"schema": dict(PROBLEM_REF)}}
