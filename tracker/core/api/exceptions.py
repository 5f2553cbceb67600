"""Turn domain errors into API answers: ValidationError → 400 with field messages,
ConflictError → 412, PermissionDeniedError → 403, a delete refused because other rows still
refer to the object (ProtectedError) → 409 saying what refers to it, StateConflictError (and
AlreadyExistsError, one of them) → 409."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracker.core.errors import ConflictError, PermissionDeniedError, StateConflictError


def validation_detail(error: DjangoValidationError) -> dict | list:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, PermissionDeniedError):
        exc = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, ProtectedError):
        blockers = exc.protected_objects
        model = next(iter(blockers))._meta if blockers else None
        detail = _(
            "This cannot be deleted: %(count)d %(things)s still refer to it. "
            "Move or delete them first."
        ) % {"count": len(blockers), "things": model.verbose_name_plural if model else "rows"}
        return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, StateConflictError):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, ConflictError):
        return Response(
            {"detail": str(exc), "current_version": exc.current_version},
            status=status.HTTP_412_PRECONDITION_FAILED,
        )
    return drf_exception_handler(exc, context)
