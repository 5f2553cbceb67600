from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.accounts.models import ApiToken, AuditEntry, Department, Membership, User
from tracker.accounts.services import (
    department_lead_audit,
    roles_audit,
    roles_of,
    staff_removal_check,
)
from tracker.core.errors import StateConflictError


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["department"]


class MilepostUserChangeForm(UserChangeForm):
    """Django's form, with the services' rule: the last active staff account stays one."""

    def clean(self):
        data = super().clean()
        user = self.instance
        saved = User.objects.filter(pk=user.pk).values("is_staff", "is_active").first()
        if saved is not None:
            probe = User(pk=user.pk, is_staff=data.get("is_staff"), is_active=data.get("is_active"))
            try:
                staff_removal_check(user=probe)
            except StateConflictError as error:
                raise ValidationError(str(error)) from error
        return data


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People, through the services' rules: the last staff account cannot be removed, and role
    changes (staff, active, departments, with the membership inline) go to the audit log."""

    form = MilepostUserChangeForm
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Milepost"), {"fields": ("language", "muted_projects")}),
    )
    list_display = ["username", "email", "first_name", "last_name", "language", "is_staff"]
    list_filter = [*DjangoUserAdmin.list_filter, "language"]
    filter_horizontal = [*DjangoUserAdmin.filter_horizontal, "muted_projects"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        if change:
            request.milepost_roles_before = roles_of(User.objects.get(pk=obj.pk))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(request, "milepost_roles_before", None)
        if change and before is not None:
            roles_audit(actor=request.user, user=form.instance, before=before)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "lead"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}
    autocomplete_fields = ["lead"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        """A new lead is a role change: recorded like `department_save` records it."""
        saved = Department.objects.filter(pk=obj.pk).select_related("lead").first()
        old_lead = saved.lead.username if saved and saved.lead else ""
        super().save_model(request, obj, form, change)
        department_lead_audit(actor=request.user, department=obj, old_lead=old_lead)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "scope",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope"]
    search_fields = ["user__username", "prefix", "name"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are issued with `manage.py issue_token` or in Settings, shown once

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is append-only: the admin reads it, never adds, edits or deletes."""

    list_display = [
        "created_at",
        "actor",
        "subject",
        "field",
        "old_value",
        "new_value",
        "reason_code",
    ]
    list_filter = ["field"]
    search_fields = ["subject", "old_value", "new_value", "reason"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
