"""Admin for channels (through the same validation as the pages and the API), linked chat
accounts and calendar feeds. Secrets and tokens are never shown."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tracker.integrations.models import CalendarFeed, ChatApp, ChatIdentity
from tracker.integrations.services import (
    CHANNEL_FIELDS,
    CHAT_APP_SECRETS,
    channel_validate,
    chat_app_callback_url,
    chat_app_validate,
)
from tracker.notifications.models import Channel, ChannelEvent


class ChannelAdminForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Not shown once saved. Leave empty to keep the saved secret."),
    )
    clear_secret = forms.BooleanField(label=_("Remove the saved secret"), required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=ChannelEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Channel
        fields = list(CHANNEL_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saved_secret = self.instance.secret if self.instance.pk else ""
        self._saved_url = self.instance.url if self.instance.pk else None
        if self.instance.pk:
            # The URL carries the platform's token: never printed, kept when left empty.
            self.initial["url"] = ""
            self.fields["url"].required = False
            self.fields["url"].widget.attrs["placeholder"] = self.instance.url_display
            self.fields["url"].help_text = _("Not shown once saved. Leave empty to keep it.")

    def clean_url(self) -> str:
        return self.cleaned_data.get("url") or self._saved_url or ""

    def clean_secret(self) -> str:
        if self.data.get(self.add_prefix("clear_secret")):
            return ""
        return self.cleaned_data.get("secret") or self._saved_secret

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            self.warnings = channel_validate(
                self.instance, check_address=self.instance.url != self._saved_url
            )
        except ValidationError as error:
            self._update_errors(error)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["name", "kind", "project", "department", "is_active", "url_display"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    autocomplete_fields = []
    raw_id_fields = ["project"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        for warning in getattr(form, "warnings", []):
            self.message_user(request, warning, level=messages.WARNING)


class ChatAppAdminForm(forms.ModelForm):
    """The app's credentials are write-only: never shown, kept when left empty."""

    class Meta:
        model = ChatApp
        fields = ["platform", "name", "app_id", *CHAT_APP_SECRETS, "is_active"]
        widgets = {name: forms.PasswordInput(render_value=False) for name in CHAT_APP_SECRETS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._saved = {name: getattr(self.instance, name) for name in CHAT_APP_SECRETS}
        for name in CHAT_APP_SECRETS:
            self.fields[name].required = False
            if self.instance.pk and self._saved[name]:
                self.fields[name].help_text = _("Saved; not shown. Leave empty to keep it.")

    def clean(self):
        data = super().clean()
        for name in CHAT_APP_SECRETS:
            data[name] = data.get(name) or self._saved[name]
        return data

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            chat_app_validate(self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(ChatApp)
class ChatAppAdmin(admin.ModelAdmin):
    form = ChatAppAdminForm
    list_display = ["name", "platform", "app_id", "is_active", "callback_url"]
    list_filter = ["platform", "is_active"]
    readonly_fields = ["callback_url"]

    @admin.display(description=_("callback URL"))
    def callback_url(self, obj: ChatApp) -> str:
        return chat_app_callback_url(obj) if obj.pk else "—"


@admin.register(ChatIdentity)
class ChatIdentityAdmin(admin.ModelAdmin):
    list_display = ["user", "platform", "display_name", "external_id", "created_at"]
    # The mobile number is personal data that only @mentions need: not shown here.
    fields = ["user", "platform", "external_id", "display_name", "open_id", "union_id"]
    list_filter = ["platform"]
    search_fields = ["user__username", "display_name", "external_id"]
    raw_id_fields = ["user"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "prefix", "created_at", "last_fetched_at"]
    fields = ["user", "project", "prefix", "created_at", "last_fetched_at"]
    readonly_fields = ["user", "project", "prefix", "created_at", "last_fetched_at"]

    def has_add_permission(self, request) -> bool:
        return False
