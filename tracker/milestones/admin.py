from django.contrib import admin

from tracker.milestones.models import Milestone, MilestoneChange, MilestoneDependency


class DependencyInline(admin.TabularInline):
    model = MilestoneDependency
    fk_name = "milestone"
    extra = 0
    raw_id_fields = ["depends_on"]


class ChangeInline(admin.TabularInline):
    model = MilestoneChange
    extra = 0
    can_delete = False
    readonly_fields = ["field", "old_value", "new_value", "actor", "reason", "created_at"]

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
        "overdue_flagged_at",
    ]
    inlines = [DependencyInline, ChangeInline]
    date_hierarchy = "due_at"

    def has_add_permission(self, request) -> bool:
        return False
