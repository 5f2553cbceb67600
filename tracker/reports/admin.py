from django.contrib import admin

from tracker.reports.models import ReportSnapshot


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(admin.ModelAdmin):
    list_display = ["label", "kind", "scope", "deviation_rate", "breached", "as_of", "updated_at"]
    list_filter = ["kind", "breached"]
    search_fields = ["label", "scope"]
    readonly_fields = [
        "kind",
        "label",
        "scope",
        "project",
        "department",
        "period_start",
        "period_end",
        "as_of",
        "deviation_rate",
        "breached",
        "data",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
