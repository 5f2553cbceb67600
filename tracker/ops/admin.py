"""Staff actions on people: download their data, erase it on request.

The accounts admin is extended here, not there, because the operations layer sits above
every other package and nothing imports it (tracker.ops comes after tracker.accounts in
INSTALLED_APPS, so this registration replaces that one).
"""

import json

from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from tracker.accounts.admin import UserAdmin
from tracker.accounts.models import User
from tracker.ops.personal import person_data_export, person_erase

admin.site.unregister(User)


@admin.register(User)
class PersonalDataUserAdmin(UserAdmin):
    actions = [*(UserAdmin.actions or []), "export_personal_data", "erase_personal_data"]

    @admin.action(description=_("Download personal data (JSON)"))
    def export_personal_data(self, request, queryset):
        data = {user.username: person_data_export(user=user) for user in queryset}
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="personal-data.json"'
        return response

    @admin.action(description=_("Erase personal data (anonymise)…"))
    def erase_personal_data(self, request, queryset):
        if not request.user.is_staff:  # the admin is staff-only; the service checks again
            return None
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "ops/erase_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Erase personal data"),
                    "people": queryset,
                    "action": "erase_personal_data",
                    "opts": self.model._meta,
                },
            )
        for user in queryset:
            result = person_erase(actor=request.user, user=user)
            self.message_user(
                request,
                _(
                    "%(name)s is now %(anon)s: %(history)s history entries kept, %(emails)s "
                    "emails deleted; still to reassign: %(nodes)s open nodes, %(depts)s "
                    "departments led, %(projects)s projects owned."
                )
                % {
                    "name": user.username,
                    "anon": result.username,
                    "history": result.history_entries_kept,
                    "emails": result.emails_deleted,
                    "nodes": result.open_nodes_assigned,
                    "depts": result.departments_led,
                    "projects": result.projects_owned,
                },
                messages.SUCCESS,
            )
        return None
