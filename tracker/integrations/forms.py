"""Forms of the integrations pages. They parse and check shapes; the rules live in services,
whose ValidationErrors are copied onto the form by `add_service_errors`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tracker.accounts.models import Department, Language, User
from tracker.core.permissions import can_manage_channel, managed_projects
from tracker.integrations.spreadsheets.importing import MAX_BYTES
from tracker.notifications.models import Channel, ChannelEvent, ChannelKind
from tracker.projects.models import Project, ProjectKind, ProjectTemplate


class ChannelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Platform"), choices=ChannelKind.choices)
    url = forms.CharField(
        label=_("Webhook URL"),
        max_length=500,
        widget=forms.TextInput(
            attrs={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Feishu: the signature secret. DingTalk: the SEC… signing secret. Signed webhook: "
            "whsec_ and base64. Leave empty for WeCom, Slack and Teams (their URL is the secret)."
        ),
    )
    clear_secret = forms.BooleanField(label=_("Remove the saved secret"), required=False)
    project = forms.ModelChoiceField(
        label=_("Project"),
        queryset=Project.objects.none(),
        required=False,
        empty_label=_("Every project"),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.order_by("name"),
        required=False,
        empty_label=_("Every department"),
        help_text=_("Only this department's alerts (in every project)."),
    )
    events = forms.MultipleChoiceField(
        label=_("Send"),
        choices=ChannelEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ChannelEvent.OVERDUE, ChannelEvent.ESCALATION, ChannelEvent.WEEKLY_REPORT],
    )
    language = forms.ChoiceField(label=_("Message language"), choices=Language.choices)
    is_active = forms.BooleanField(
        label=pgettext_lazy("channel switch", "Active"), required=False, initial=True
    )

    def __init__(self, *args: Any, user: User, channel: Channel | None = None, **kwargs: Any):
        self.user = user
        self.channel = channel
        if channel is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": channel.name,
                    "kind": channel.kind,
                    "project": channel.project_id,
                    "department": channel.department_id,
                    "events": channel.events,
                    "language": channel.language,
                    "is_active": channel.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        projects = Project.objects.visible_to(user).filter(managed_projects(user)).order_by("name")
        if not can_manage_channel(user, None):
            # A channel without a project (a department's, or everything) is staff's.
            del self.fields["department"]
            self.fields["project"].required = True
            self.fields["project"].empty_label = None
        self.fields["project"].queryset = projects
        if channel is None:
            del self.fields["clear_secret"]
        else:
            self.fields["url"].required = False
            self.fields["url"].widget.attrs["placeholder"] = channel.url_display
            self.fields["url"].help_text = _("Leave empty to keep the saved URL.")
            if channel.secret:
                self.fields["secret"].help_text = _(
                    "A secret is saved (not shown). Leave empty to keep it."
                )

    def service_data(self) -> dict[str, Any]:
        """The changed values, in the shape channel_create/channel_update take."""
        data = dict(self.cleaned_data)
        clear = data.pop("clear_secret", False)
        data.setdefault("department", None)
        if self.channel is not None:
            if not data["url"]:
                data.pop("url")
            if clear:
                data["secret"] = ""
            elif not data["secret"]:
                data.pop("secret")
        return data


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet"),
        help_text=_("A .csv or .xlsx file, at most 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise ValidationError(_("The file is larger than 5 MB."))
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        return upload


class HistoricalImportForm(ImportForm):
    """A past project from an export: the file, and the project fields a node table lacks."""

    name = forms.CharField(label=_("Project name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=ProjectKind.choices)
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=ProjectTemplate.objects.order_by("name"),
        required=False,
        empty_label=_("None"),
        help_text=_("The template the campaign followed: campaigns of one template compare."),
    )
    d_day = forms.DateTimeField(
        label=_("D-day"),
        help_text=_("The go-live moment; it has passed, e.g. 2025-11-11 00:00."),
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"),
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label=_("Me"),
    )
    deviation_threshold = forms.DecimalField(
        label=_("Deviation threshold"),
        min_value=0,
        max_value=1,
        decimal_places=4,
        required=False,
        help_text=_("Share of nodes allowed to miss their planned date, e.g. 0.10."),
    )

    field_order = ["file", "name", "kind", "template", "d_day", "owner", "deviation_threshold"]


class CalendarFeedForm(forms.Form):
    project = forms.ModelChoiceField(
        label=_("Project"),
        queryset=Project.objects.none(),
        required=False,
        empty_label=_("My nodes (assigned to me, every project)"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.visible_to(user).order_by("name")
