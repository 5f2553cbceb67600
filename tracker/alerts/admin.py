from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tracker.alerts.models import Alert


class OpenFilter(admin.SimpleListFilter):
    title = _("open")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("Open")), ("no", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(resolved_at__isnull=self.value() == "yes")
        return queryset


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "milestone", "project", "due_at", "created_at", "resolved_at"]
    list_filter = ["kind", OpenFilter, "created_at"]
    list_select_related = ["milestone", "project"]
    search_fields = ["milestone__title", "project__name"]
    raw_id_fields = ["milestone", "project"]
    readonly_fields = ["scan_id", "escalated_at"]
    date_hierarchy = "created_at"
