"""The OpenAPI schema tells the truth about errors: every operation declares the error answers
it can give, each with its body, so that a generated client parses a 412 as it parses a 200.

Which answers an operation can give follows from what it is, in the order of README's
"Order of answers": 401 for every operation behind the API's permission class, 403 for
writes, 404 where the path names an object (or a list is paged), 428 and 412 where the
operation requires `If-Match`, 409 where the view lists the action in `conflict_actions`, 400
for writes and for reads with a query to refuse, 415 where there is a body, and 429 everywhere.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS

from tracker.core.api.permissions import IsAuthenticatedWithScope

ERROR_SCHEMAS = {
    "Error": {
        "type": "object",
        "description": "Why the request was refused.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": "What is wrong with the request, by field: each field (or "
        "`non_field_errors`) maps to a list of messages, or, for a list or nested field, to "
        "the same structure per item. A body that is not JSON gets `detail` instead.",
        "properties": {
            "detail": {"type": "string"},
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": {},
    },
    "PreconditionFailed": {
        "type": "object",
        "description": "The object changed since the version named in If-Match: read it "
        "again (its current version is given) and retry.",
        "properties": {
            "detail": {"type": "string"},
            "current_version": {"type": "integer"},
        },
        "required": ["detail", "current_version"],
    },
}

DESCRIPTIONS = {
    "400": "The body or the query is invalid (messages by field); nothing was written.",
    "401": "No credentials, or a key that is unknown, revoked or expired.",
    "403": "The credential (a read-scope token) or the person may not do this.",
    "404": "No such object (or page).",
    "409": "The request is valid, but the object's current state forbids it.",
    "412": "If-Match names a version that is no longer current; nothing was written.",
    "415": "The body is not JSON (`Content-Type: application/json`).",
    "428": "If-Match is missing: send the ETag of your last read.",
    "429": "Too many requests: wait the seconds in Retry-After.",
}
BODIES = {"400": "ValidationError", "412": "PreconditionFailed"}
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."},
}


class MilepostAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code in responses:
                continue
            component = ResolvedComponent(
                name=BODIES.get(code, "Error"),
                type=ResolvedComponent.SCHEMA,
                object=BODIES.get(code, "Error"),
                schema=ERROR_SCHEMAS[BODIES.get(code, "Error")],
            )
            self.registry.register_on_missing(component)
            response = {
                "description": DESCRIPTIONS[code],
                "content": {"application/json": {"schema": component.ref}},
            }
            if code == "429":
                response["headers"] = RETRY_AFTER
            responses[code] = response
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        guarded = any(isinstance(p, IsAuthenticatedWithScope) for p in self.view.get_permissions())
        if not guarded:
            return []
        writes = self.method not in SAFE_METHODS
        has_body = self.method in {"POST", "PUT", "PATCH"} and self._has_request_body()
        names_object = "{" in self.path
        paged = self._is_list_view() and self._get_paginator() is not None
        conditional = any(
            getattr(p, "name", None) == "If-Match" for p in self.get_override_parameters()
        )
        conflicts = self.method.lower() in getattr(self.view, "conflict_actions", ()) or (
            getattr(self.view, "action", None) in getattr(self.view, "conflict_actions", ())
        )
        queried = bool(self._get_filter_parameters()) or bool(
            [p for p in self.get_override_parameters() if getattr(p, "location", "") == "query"]
        )
        codes = ["401", "429"]
        codes += ["403"] if writes else []
        codes += ["404"] if names_object or paged else []
        codes += ["428", "412"] if conditional else []
        codes += ["409"] if conflicts else []
        # A write's service may refuse with field messages even without a body.
        codes += ["400"] if writes or queried else []
        codes += ["415"] if has_body else []
        return codes

    def _has_request_body(self) -> bool:
        request = self.get_request_serializer()
        return request is not None
