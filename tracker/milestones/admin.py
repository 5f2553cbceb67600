from django.contrib import admin

from tracker.milestones.models import (
    DeviationReason,
    Milestone,
    MilestoneChange,
    MilestoneDependency,
)


class DependencyInline(admin.TabularInline):
    model = MilestoneDependency
    fk_name = "milestone"
    extra = 0
    raw_id_fields = ["depends_on"]


class ChangeInline(admin.TabularInline):
    model = MilestoneChange
    extra = 0
    can_delete = False
    readonly_fields = [
        "field",
        "old_value",
        "new_value",
        "actor",
        "reason_code",
        "reason",
        "created_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Milestone)
class MilestoneAdmin(admin.ModelAdmin):
    """Read-mostly: edits belong in the board or the API, where history and rules apply."""

    list_display = [
        "title",
        "project",
        "department",
        "assignee",
        "status",
        "due_at",
        "baseline_due_at",
        "completed_at",
    ]
    list_filter = ["status", "department", "project"]
    search_fields = ["title", "project__name"]
    list_select_related = ["project", "department", "assignee"]
    readonly_fields = [
        "project",
        "title",
        "description",
        "department",
        "assignee",
        "due_at",
        "baseline_due_at",
        "status",
        "completed_at",
        "position",
        "version",
    ]
    inlines = [DependencyInline, ChangeInline]
    date_hierarchy = "due_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Deleting a node is the service's (never for a baselined project): not here."""
        return False


@admin.register(DeviationReason)
class DeviationReasonAdmin(admin.ModelAdmin):
    """Staff edit the names and add reasons; a code, once used in history, stays: deactivate
    a reason instead of deleting it."""

    list_display = ["code", "name_en", "name_zh_hans", "requires_text", "active", "position"]
    list_editable = ["active", "position"]
    list_filter = ["active"]
    search_fields = ["code", "name_en", "name_zh_hans"]

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
