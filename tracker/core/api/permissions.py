"""The API's gate: who is calling, and what their credential allows. What the person may do is
decided by the services, through `tracker.core.permissions`; this gate only answers 401 to a
caller who is not signed in and 403 to a write made with a read-scope token (the scope belongs
to the token, which services never see)."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from tracker.core.permissions import is_active_user


class IsAuthenticatedWithScope(BasePermission):
    """Signed in (session or token); a read-scope token never writes."""

    def has_permission(self, request, view) -> bool:
        if not is_active_user(request.user):
            return False
        # Duck-typed (`ApiToken.can_write`): core does not import accounts.
        if request.method not in SAFE_METHODS and not getattr(request.auth, "can_write", True):
            raise PermissionDenied("This API token is read-only.")
        return True
