from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from tracker.accounts.models import ApiToken, TokenScope


class IsAuthenticatedWithScope(BasePermission):
    """Signed in (session or token); a read-scope token never writes."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = request.auth
        if (
            isinstance(token, ApiToken)
            and request.method not in SAFE_METHODS
            and token.scope != TokenScope.WRITE
        ):
            raise PermissionDenied("This API token is read-only.")
        return True


class StaffWritesOthersRead(IsAuthenticatedWithScope):
    """Reference data (departments, users, templates): everyone reads, staff writes."""

    message = "Only staff can change this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or request.user.is_staff
