"""The order of a write's checks, for every viewset (docs/api.md, "Order of answers"): the
permission class answers 401 and a read-scope token's 403; the lookup 404; then, before any
body is read, the service's own check of the person (403), so a caller who may not write at
all is told so whatever the body holds. Preconditions (428, 412), the body (400) and the
service (409, and the checks again) follow in the view."""

WRITE_ACTIONS = frozenset({"update", "partial_update", "destroy"})


class ChecksWriteFirst:
    """Mixed into a viewset: `check_write(obj)` runs right after the lookup of an update or
    delete, `check_create()` before a create reads its body. Each calls its service's
    `<entity>_authorize_…` function: the rule and its message stay in the service."""

    def check_create(self) -> None:
        """Raise PermissionDeniedError when the caller may create nothing of the kind."""

    def check_write(self, obj) -> None:
        """Raise PermissionDeniedError when the caller may not change or delete `obj`."""

    def get_object(self):
        obj = super().get_object()
        if getattr(self, "action", None) in WRITE_ACTIONS:
            self.check_write(obj)
        return obj

    def create(self, request, *args, **kwargs):
        self.check_create()
        return super().create(request, *args, **kwargs)
