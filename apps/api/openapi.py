"""Every operation's OpenAPI entry lists the errors it can answer, each with the error body's schema.

What applies is read off the operation itself: every one can be a malformed request
(400), and, behind auth, a 401 or a 403; one with parameters or a body can fail
validation (422); one with a path parameter can name something that is not there (404);
one that can take a body can get one too large (413) or of the wrong type (415). A 409
is the operation's own to declare (``response={..., 409: ErrorBodyOut}``): only it knows
which conflicts its service raises.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apps.api.errors import ErrorBodyOut

ERROR_REF = "#/components/schemas/ErrorBodyOut"
_WHY = {
    400: "Malformed request: a body that is not JSON or not a JSON object, too many query parameters",
    401: "No user: log in, or send 'Authorization: Bearer <token>'",
    403: "The user lacks the role this operation needs",
    404: "Nothing by that name or id",
    413: "Request body larger than 1 MiB",
    415: "Body not sent as application/json",
    422: "A field or parameter is invalid; error.field names it and error.details lists every problem",
}


def _applicable(method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {400}
    if operation.get("security"):
        statuses |= {401, 403}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    if method not in {"get", "head", "options"}:
        statuses |= {413, 415}
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    description = _WHY.get(status, HTTPStatus(status).phrase)
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def openapi_error_responses_add(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the applicable error responses to every operation of ``schema``, in place; returns it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBodyOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBodyOut"] = body
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            # ninja keys responses by int; JSON turns them into strings either way.
            responses = {int(status): response for status, response in operation.get("responses", {}).items()}
            for status in sorted(_applicable(method, operation)):
                responses.setdefault(status, _error_response(status))
            for status, response in responses.items():
                if status >= 400:
                    response["description"] = _WHY.get(status, response.get("description", ""))
            operation["responses"] = dict(sorted(responses.items()))
    return schema
