from django.contrib import admin

from tracker.projects.models import Project, ProjectTemplate, TemplateNode


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


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
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
    readonly_fields = ["baselined_at"]
    date_hierarchy = "d_day"
