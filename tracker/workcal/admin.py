from django.contrib import admin, messages

from tracker.workcal.models import CalendarOverride, OfficialDay, OfficialYear
from tracker.workcal.selectors import calendar_coming_year_warning


class ComingYearWarningMixin:
    def changelist_view(self, request, extra_context=None):
        warning = calendar_coming_year_warning()
        if warning:
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(ComingYearWarningMixin, admin.ModelAdmin):
    list_display = ["date", "kind", "name", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    date_hierarchy = "date"
    readonly_fields = ["created_by", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class OfficialDayInline(admin.TabularInline):
    model = OfficialDay
    extra = 0
    fields = ["date", "kind", "name"]


@admin.register(OfficialYear)
class OfficialYearAdmin(ComingYearWarningMixin, admin.ModelAdmin):
    list_display = ["year", "loaded_at", "loaded_from"]
    readonly_fields = ["loaded_at", "loaded_from"]
    inlines = [OfficialDayInline]
