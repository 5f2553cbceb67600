"""Conditional writes (RFC 9110 `If-Match`, RFC 6585 `428 Precondition Required`).

An API write to an object that carries a version must name the version the client read, so a
blind write can never overwrite someone else's change: without `If-Match` the answer is 428,
with a tag that is not the current one 412 (nothing is written either way). The view asks
this after finding the object and checking that the caller may write it, and before it reads
the body, so every write answers in one order: 401 → 403 → 404 → 428 → 412 → 409 → 400
(README, "Order of answers").
"""

import re

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

from tracker.core.errors import ConflictError

# One entity tag: "3", or W/"3" (GZipMiddleware weakens the ETag of a compressed answer).
ENTITY_TAG = re.compile(r'^(?:W/)?"(\d+)"$')
# What the schema declares: one tag or a comma-separated list of them.
IF_MATCH_PATTERN = r'^(?:W/)?"\d+"(?:\s*,\s*(?:W/)?"\d+")*$'


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = _(
        'Send the If-Match header with the ETag of your last read (e.g. If-Match: "3"), so '
        "that you do not overwrite a change you have not seen."
    )
    default_code = "precondition_required"


def etag_for(version: int) -> str:
    return f'"{version}"'


def if_match_versions(request) -> list[int] | None:
    """The versions If-Match names; None when there is no usable header (absent, empty or
    `*`, which names no version). A tag that cannot be read names no version (-1), so it
    matches nothing: a precondition failure, never a silent overwrite."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    versions = []
    for tag in header.split(","):
        match = ENTITY_TAG.match(tag.strip())
        versions.append(int(match[1]) if match else -1)
    return versions


def required_version(request, *, current: int) -> int:
    """The version the client read, which must be `current`: 428 without If-Match, 412
    (ConflictError, with the current version) when it names another. The service is given the
    result, and checks it again under its row lock, for a write that lands in between."""
    versions = if_match_versions(request)
    if versions is None:
        raise PreconditionRequired()
    if current not in versions:
        raise ConflictError(current)
    return current
