from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tracker.notifications.models import OutboxMessage
from tracker.notifications.services import outbox_retry


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Every message queued, with its attempts and last error; failed ones can be retried."""

    list_display = [
        "created_at",
        "event",
        "recipient",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
    ]
    list_filter = ["status", "event", "created_at"]
    list_select_related = ["recipient", "channel"]
    search_fields = ["recipient__username", "recipient__email", "channel__name", "last_error"]
    readonly_fields = [
        "id",
        "event",
        "recipient",
        "channel",
        "dedupe_key",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_error",
        "subject",
        "response",
        "created_at",
        "sent_at",
    ]
    actions = ["retry_now"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description=_("last error"))
    def short_error(self, message: OutboxMessage) -> str:
        return message.last_error[:80]

    @admin.action(description=_("Send again now"))
    def retry_now(self, request, queryset):
        count = outbox_retry(message_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )
