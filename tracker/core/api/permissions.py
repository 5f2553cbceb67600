from rest_framework.permissions import SAFE_METHODS, BasePermission

from tracker.accounts.models import ApiToken, TokenScope


class IsAuthenticatedWithScope(BasePermission):
    """Signed in (session or token); a read-scope token never writes."""

    message = "This API token is read-only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = request.auth
        if isinstance(token, ApiToken) and request.method not in SAFE_METHODS:
            return token.scope == TokenScope.WRITE
        return True
