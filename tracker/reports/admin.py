from django.contrib import admin

from tracker.reports.models import ReportSnapshot


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "label",
        "kind",
        "scope",
        "deviation_rate",
        "breached",
        "as_of",
        "superseded_at",
        "updated_at",
    ]
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
        "taken_by",
        "reason",
        "superseded_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Snapshots are figures of record: kept, never deleted."""
        return False
