from django.contrib import admin

from tracker.projects.models import Project, ProjectBaseline, ProjectTemplate, TemplateNode


class TemplateNodeInline(admin.TabularInline):
    model = TemplateNode
    extra = 0
    fields = [
        "position",
        "key",
        "title",
        "department_code",
        "offset_days",
        "time_of_day",
        "depends_on",
    ]


@admin.register(ProjectTemplate)
class ProjectTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]
    inlines = [TemplateNodeInline]


class BaselineInline(admin.TabularInline):
    model = ProjectBaseline
    extra = 0
    can_delete = False
    readonly_fields = ["number", "taken_at", "actor", "reason_code", "reason", "node_count"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """The fields the audit log records (threshold, D-day, owner, status) change only through
    the services (the project page and the API), which record them; a project is never
    deleted here."""

    list_display = [
        "name",
        "kind",
        "status",
        "d_day",
        "owner",
        "deviation_threshold",
        "baselined_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    autocomplete_fields = ["owner"]
    readonly_fields = [
        "baselined_at",
        "baseline_number",
        "deviation_threshold",
        "d_day",
        "owner",
        "status",
    ]
    date_hierarchy = "d_day"
    inlines = [BaselineInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
