"""Forms of the browser UI. They only parse and check the shape of input; the rules live in the
services, whose ValidationErrors are copied onto the form by `add_service_errors`."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.renderers import DjangoTemplates
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tracker.accounts.models import Language, TokenScope, User
from tracker.milestones.models import DeviationReason, MilestoneStatus
from tracker.notifications.models import NOTIFICATION_KINDS, Delivery, PreferenceChannel
from tracker.notifications.preferences import KINDS, delivery_choices
from tracker.projects.models import (
    OffsetUnit,
    Project,
    ProjectKind,
    ProjectStatus,
    ProjectTemplate,
)
from tracker.projects.services import project_status_check
from tracker.reports.periods import PeriodKind, parse_period
from tracker.web.selectors import Health
from tracker.workcal.calendar import WarRoom
from tracker.workcal.models import RollRule

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


def tz_help() -> str:
    return _("Times are in %(zone)s.") % {"zone": settings.TIME_ZONE}


def reason_code_field() -> forms.ChoiceField:
    """The deviation reason select of a form whose change may need one on a baselined
    project (the service says when, on this field)."""
    return forms.ChoiceField(label=_("Reason code"), required=False, choices=reason_choices)


def reason_choices() -> list[tuple[str, str]]:
    return [("", _("No reason needed"))] + [
        (reason.code, reason.name) for reason in DeviationReason.objects.active()
    ]


class UIRenderer(DjangoTemplates):
    """Fields render label, input, errors, then help: the input lines up across a grid row."""

    field_template_name = "web/forms/field.html"


class UIForm(forms.Form):
    default_renderer = UIRenderer()


class ProjectCreateForm(UIForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=ProjectKind.choices)
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=ProjectTemplate.objects.order_by("name"),
        required=False,
        empty_label=_("No template (empty board)"),
        help_text=_("Nodes are scheduled back from the D-day."),
    )
    d_day = forms.DateTimeField(label=_("D-day"), widget=datetime_widget())
    threshold_percent = forms.DecimalField(
        label=_("Deviation threshold (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=2,
        initial=Decimal(10),
        help_text=_("Share of nodes allowed to miss their planned date."),
    )
    war_room = forms.BooleanField(
        label=_("War room"),
        required=False,
        help_text=_("Work through weekends and holidays around the D-day, day and night."),
    )
    war_room_days_before = forms.IntegerField(
        label=_("War room from D-"), min_value=0, max_value=60, initial=3, required=False
    )
    war_room_days_after = forms.IntegerField(
        label=_("War room until D+"), min_value=0, max_value=60, initial=3, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["d_day"].help_text = tz_help()

    @property
    def war_room_window(self) -> WarRoom | None:
        data = self.cleaned_data
        if not data.get("war_room"):
            return None
        return WarRoom.around(
            timezone.localtime(data["d_day"]).date(),
            before=data.get("war_room_days_before") or 0,
            after=data.get("war_room_days_after") or 0,
        )

    def clean_d_day(self) -> Any:
        d_day = self.cleaned_data["d_day"]
        if d_day <= timezone.now():
            raise ValidationError(
                _(
                    "The D-day has passed: plan a coming one here. Staff bring past campaigns "
                    "in with the historical import."
                )
            )
        return d_day

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        template, kind = data.get("template"), data.get("kind")
        if template is not None and kind and template.kind != kind:
            self.add_error(
                "template",
                _("“%(name)s” is a template for a %(kind)s.")
                % {"name": template.name, "kind": template.get_kind_display().lower()},
            )
        return data

    @property
    def threshold(self) -> Decimal:
        return self.cleaned_data["threshold_percent"] / 100


class ProjectSettingsForm(UIForm):
    """A project's settings (owner and staff): its name, D-day (moving it re-anchors the
    nodes, with a reason), status, owner, deviation threshold, and its working time: hours,
    reminder windows, the escalation ladder and war room. `project_update` checks and audits
    them."""

    name = forms.CharField(label=_("Name"), max_length=200)
    d_day = forms.DateTimeField(label=_("D-day"), widget=datetime_widget())
    change_reason = forms.CharField(
        label=_("Why the D-day moves"),
        required=False,
        max_length=500,
        help_text=_("Needed when the D-day moves; kept in the audit log and each node's history."),
    )
    reason_code = reason_code_field()
    status = forms.ChoiceField(label=_("Status"), choices=ProjectStatus.choices)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none())
    threshold_percent = forms.DecimalField(
        label=_("Deviation threshold (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=2,
        help_text=_("Share of nodes allowed to miss their planned date."),
    )
    working_hours = forms.CharField(
        label=_("Working hours"),
        required=False,
        max_length=100,
        help_text=_("e.g. 09:00-12:00,13:00-18:00; empty: the organisation's."),
    )
    due_soon_hours = forms.IntegerField(
        label=_("Remind before due (working hours)"), min_value=0, max_value=10000
    )
    escalate_after_hours = forms.IntegerField(
        label=_("Escalate to the department lead after (working hours)"),
        min_value=1,
        max_value=10000,
    )
    escalate_owner_after_hours = forms.IntegerField(
        label=_("Escalate to the owner after (working hours)"), min_value=1, max_value=10000
    )
    escalate_contact_after_hours = forms.IntegerField(
        label=_("Escalate to the escalation contact after (working hours)"),
        min_value=1,
        max_value=10000,
    )
    nudge_every_hours = forms.IntegerField(
        label=_("Nudge the assignee every (working hours)"),
        min_value=1,
        max_value=10000,
        required=False,
        help_text=_("Empty: once per working day."),
    )
    escalation_contact = forms.ModelChoiceField(
        label=_("Escalation contact"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("The organisation's"),
        help_text=_("The ladder's last rung."),
    )
    war_room = forms.BooleanField(
        label=_("War room"),
        required=False,
        help_text=_("Work through weekends and holidays around the D-day, day and night."),
    )
    war_room_days_before = forms.IntegerField(
        label=_("War room from D-"), min_value=0, max_value=60
    )
    war_room_days_after = forms.IntegerField(
        label=_("War room until D+"), min_value=0, max_value=60
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["owner"].queryset = User.objects.filter(
            Q(is_active=True) | Q(pk=project.owner_id)
        ).order_by("first_name", "last_name", "username")
        self.fields["escalation_contact"].queryset = User.objects.filter(
            Q(is_active=True) | Q(pk=project.escalation_contact_id)
        ).order_by("first_name", "last_name", "username")
        self.fields["d_day"].help_text = tz_help()
        # The page offers only the statuses the project may move to; a status posted anyway
        # is refused by `project_status_check`, which names them (a crafted POST, a stale tab).
        offered = [project.status, *ProjectStatus.allowed_next(project.status)]
        self.fields["status"].widget.choices = [
            (value, label) for value, label in ProjectStatus.choices if value in offered
        ]

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        try:
            project_status_check(project=self.project, new_status=status)
        except ValidationError as error:
            raise ValidationError(error.message_dict["status"]) from error
        return status

    @classmethod
    def initial_for(cls, project: Project) -> dict[str, Any]:
        def hours(window: timedelta | None) -> int | None:
            return None if window is None else int(window.total_seconds() // 3600)

        return {
            "name": project.name,
            "d_day": timezone.localtime(project.d_day).replace(second=0, microsecond=0),
            "status": project.status,
            "owner": project.owner_id,
            "threshold_percent": (project.deviation_threshold * 100).quantize(Decimal("0.01")),
            "working_hours": project.working_hours,
            "due_soon_hours": hours(project.due_soon_window),
            "escalate_after_hours": hours(project.escalate_after),
            "escalate_owner_after_hours": hours(project.escalate_owner_after),
            "escalate_contact_after_hours": hours(project.escalate_contact_after),
            "nudge_every_hours": hours(project.nudge_every),
            "escalation_contact": project.escalation_contact_id,
            "war_room": project.war_room,
            "war_room_days_before": project.war_room_days_before,
            "war_room_days_after": project.war_room_days_after,
        }

    @property
    def new_d_day(self) -> datetime | None:
        """The D-day asked for when it differs from the project's (to the minute)."""
        d_day = self.cleaned_data.get("d_day")
        if d_day is None:
            return None
        current = self.project.d_day.replace(second=0, microsecond=0)
        return d_day if d_day != current else None

    def project_data(self) -> dict[str, Any]:
        """The fields as `project_update` takes them (the D-day only when it moves)."""
        data = self.cleaned_data
        fields = {
            "name": data["name"].strip(),
            "status": data["status"],
            "owner": data["owner"],
            "deviation_threshold": data["threshold_percent"] / 100,
            "working_hours": data["working_hours"].strip(),
            "due_soon_window": timedelta(hours=data["due_soon_hours"]),
            "escalate_after": timedelta(hours=data["escalate_after_hours"]),
            "escalate_owner_after": timedelta(hours=data["escalate_owner_after_hours"]),
            "escalate_contact_after": timedelta(hours=data["escalate_contact_after_hours"]),
            "nudge_every": (
                timedelta(hours=data["nudge_every_hours"]) if data["nudge_every_hours"] else None
            ),
            "escalation_contact": data["escalation_contact"],
            "war_room": data["war_room"],
            "war_room_days_before": data["war_room_days_before"],
            "war_room_days_after": data["war_room_days_after"],
        }
        if self.new_d_day is not None:
            fields["d_day"] = self.new_d_day
        return fields


class MilestoneEditForm(UIForm):
    """The inline card editor. Every field remembers the value the user loaded
    (`show_hidden_initial`) so only what they changed is sent, and a conflict can keep their
    changes while showing everyone else's."""

    title = forms.CharField(label=_("Title"), max_length=200, show_hidden_initial=True)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Unassigned"),
        show_hidden_initial=True,
    )
    due_at = forms.DateTimeField(label=_("Due"), widget=datetime_widget(), show_hidden_initial=True)
    status = forms.ChoiceField(
        label=_("Status"), choices=MilestoneStatus.choices, show_hidden_initial=True
    )
    completed_at = forms.DateTimeField(
        label=_("Completed at"),
        widget=datetime_widget(),
        required=False,
        show_hidden_initial=True,
        help_text=_("For a done node; leave empty to use the moment you save."),
    )
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reason_code = forms.ChoiceField(label=_("Reason code"), required=False, choices=())
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    EDITABLE = ("title", "assignee", "due_at", "status", "completed_at")

    def __init__(self, *args: Any, assignees: Any, baselined: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["due_at"].help_text = tz_help()
        self.baselined = baselined
        if baselined:
            # The rules (`reason_required_for`) are the service's: the form offers the codes
            # and the service refuses, on this field, a change that needs one and has none.
            self.fields["reason_code"].choices = [("", _("No reason needed"))] + [
                (reason.code, reason.name) for reason in DeviationReason.objects.active()
            ]
            self.fields["reason_code"].help_text = _(
                "This project is baselined: moving the due date, cancelling, or finishing "
                "after the planned due or more than 24 hours ago needs a reason code."
            )
            self.fields["change_reason"].help_text = _("Required with the reason “other”.")
        else:
            del self.fields["reason_code"]

    @staticmethod
    def initial_for(milestone: Any) -> dict[str, Any]:
        return {
            "title": milestone.title,
            "assignee": milestone.assignee_id,
            "due_at": milestone.due_at,
            "status": milestone.status,
            "completed_at": milestone.completed_at,
            "version": milestone.version,
        }

    def changes(self) -> dict[str, Any]:
        """The fields the user changed, as a PATCH for `milestone_update`."""
        return {
            name: self.cleaned_data[name] for name in self.changed_data if name in self.EDITABLE
        }


class MilestoneCreateForm(UIForm):
    title = forms.CharField(label=_("Title"), max_length=200)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Unassigned"),
    )
    due_at = forms.DateTimeField(label=_("Due"), widget=datetime_widget())
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["due_at"].help_text = tz_help()


class MoveForm(UIForm):
    status = forms.ChoiceField(choices=MilestoneStatus.choices)
    version = forms.IntegerField(min_value=1)


class BoardFilterForm(UIForm):
    department = forms.ChoiceField(label=_("Department"), required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    at_risk = forms.BooleanField(label=_("At risk only"), required=False)

    def __init__(self, *args: Any, departments: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("All departments"))] + [
            (d.code, d.name) for d in departments
        ]
        self.fields["assignee"].choices = [("", _("Anyone"))] + [
            (u.username, str(u)) for u in assignees
        ]


class NodeListFilterForm(BoardFilterForm):
    """The board's filters and the column the node list is sorted by."""

    SORT_COLUMNS = (
        ("title", _("Node")),
        ("department", _("Department")),
        ("assignee", _("Assignee")),
        ("due_at", _("Due")),
        ("status", _("Status")),
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[("", "")]
        + [(key, label) for key, label in SORT_COLUMNS]
        + [(f"-{key}", label) for key, label in SORT_COLUMNS],
    )


class ProjectFilterForm(UIForm):
    ALL = "all"
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *ProjectKind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("All but archived")),
            *ProjectStatus.choices,
            (ALL, _("All, archived included")),
        ],
    )
    health = forms.ChoiceField(label=_("Health"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["health"].choices = [("", _("Any health")), *Health.LABELS.items()]

    @property
    def asks_for_archived(self) -> bool:
        """Archived projects are listed only when the status filter asks for them."""
        return self.cleaned_data.get("status") in {ProjectStatus.ARCHIVED, self.ALL}

    def filter(self, queryset: Any) -> Any:
        """Narrow `Project.objects.visible_to(…)` to the filters chosen."""
        data = self.cleaned_data
        if data.get("q"):
            queryset = queryset.filter(name__icontains=data["q"])
        if data.get("kind"):
            queryset = queryset.filter(kind=data["kind"])
        status = data.get("status")
        if status and status != self.ALL:
            queryset = queryset.filter(status=status)
        return queryset


class ReportFilterForm(UIForm):
    """The period picker and the scope of a report page."""

    period = forms.CharField(required=False)
    project = forms.ModelChoiceField(
        label=_("Project"),
        queryset=Project.objects.none(),
        required=False,
        empty_label=_("All projects"),
    )
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args: Any, kind: str, departments: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Reports keep archived projects' history, so they can be chosen here.
        self.fields["project"].queryset = Project.objects.visible_to(
            user, include_archived=True
        ).order_by("-d_day")
        self.kind = kind
        field = self.fields["period"]
        if kind == PeriodKind.WEEK:
            field.label = _("Week")
            field.widget = forms.TextInput(attrs={"type": "week", "placeholder": "2026-W47"})
        else:
            field.label = _("Month")
            field.widget = forms.TextInput(attrs={"type": "month", "placeholder": "2026-11"})
        self.fields["department"].choices = [("", _("All departments"))] + [
            (str(d.pk), d.name) for d in departments
        ]

    def clean_period(self) -> Any:
        value = (self.cleaned_data.get("period") or "").strip()
        if not value:
            return None
        return parse_period(self.kind, value)

    def clean_department(self) -> int | None:
        value = self.cleaned_data.get("department")
        return int(value) if value else None


class PreferencesForm(UIForm):
    """Language, muted projects, and how each kind of message reaches the person by each
    channel (one select per kind × channel, named `notify_<kind>_<channel>`)."""

    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)
    muted_projects = forms.ModelMultipleChoiceField(
        label=_("Muted projects"),
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "No email or chat message about these projects, of any kind; your inbox (the bell) "
            "still lists everything, quietly."
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["muted_projects"].queryset = Project.objects.visible_to(user).order_by("name")
        labels = dict(Delivery.choices)
        for kind, kind_label in NOTIFICATION_KINDS:
            for channel, channel_label in PreferenceChannel.choices:
                self.fields[self.field_name(kind, channel)] = forms.ChoiceField(
                    label=f"{kind_label} · {channel_label}",
                    choices=[(d, labels[d]) for d in delivery_choices(kind, channel)],
                    initial=Delivery.IMMEDIATE,
                    required=False,  # left out of a post: unchanged
                )

    @staticmethod
    def field_name(kind: str, channel: str) -> str:
        return f"notify_{kind}_{channel}"

    @classmethod
    def initial_for(cls, matrix: dict[tuple[str, str], str]) -> dict[str, str]:
        return {cls.field_name(kind, channel): value for (kind, channel), value in matrix.items()}

    def choices(self) -> dict[tuple[str, str], str]:
        """The kind × channel choices posted, as `preferences_save` takes them."""
        return {
            (kind, channel): value
            for kind in KINDS
            for channel in PreferenceChannel.values
            if (value := self.cleaned_data.get(self.field_name(kind, channel)))
        }

    def matrix_rows(self) -> list[tuple[str, list[Any]]]:
        """(kind label, its bound fields by channel) for the settings table."""
        return [
            (label, [self[self.field_name(kind, channel)] for channel in PreferenceChannel.values])
            for kind, label in NOTIFICATION_KINDS
        ]

    def channel_labels(self) -> list[str]:
        return list(PreferenceChannel.labels)


class TokenCreateForm(UIForm):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “BI dashboard”."),
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=TokenScope.choices)
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("Leave empty for a token that does not expire."),
    )


class LanguageForm(UIForm):
    language = forms.ChoiceField(choices=Language.choices)
    next = forms.CharField(required=False)


class TemplateForm(UIForm):
    """A template's own fields; its nodes come in a `TemplateNodeFormSet`."""

    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.SlugField(
        label=_("Code"), max_length=50, help_text=_("Letters, digits and hyphens; unique.")
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=ProjectKind.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    offset_unit = forms.ChoiceField(label=_("Offsets count"), choices=OffsetUnit.choices)
    roll_rule = forms.ChoiceField(
        label=_("A node on a non-working day moves to"), choices=RollRule.choices
    )

    @classmethod
    def initial_for(cls, template: ProjectTemplate) -> dict[str, Any]:
        return {field: getattr(template, field) for field in cls.base_fields}


class TemplateNodeForm(UIForm):
    key = forms.SlugField(label=_("Key"), max_length=60)
    title = forms.CharField(label=_("Title"), max_length=200)
    department = forms.ChoiceField(label=_("Department"))
    offset_days = forms.IntegerField(
        label=_("Offset"),
        min_value=-3650,
        max_value=3650,
        help_text=_("From the D-day, in the template's unit; negative is before it."),
    )
    # A time, not "18:00": a string initial never equals the posted value's time, so every
    # empty extra row would count as changed and be refused as incomplete.
    time = forms.TimeField(
        label=_("Time"), initial=time(18, 0), widget=forms.TimeInput(format="%H:%M")
    )
    depends_on = forms.CharField(
        label=_("Depends on"),
        required=False,
        max_length=2000,
        help_text=_("Keys of upstream nodes, separated by spaces or commas."),
    )
    description = forms.CharField(label=_("Description"), required=False, max_length=5000)

    def __init__(self, *args: Any, departments: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—")] + [(d.code, d.name) for d in departments]
        # A template may name a department that does not exist yet (projects from it are
        # refused until it does): keep its code choosable rather than lose it on save.
        current = self.initial.get("department") or self.data.get(self.add_prefix("department"))
        if current and current not in {code for code, _label in choices}:
            choices.append((current, _("%(code)s (no such department yet)") % {"code": current}))
        self.fields["department"].choices = choices

    def clean_depends_on(self) -> list[str]:
        text = self.cleaned_data.get("depends_on") or ""
        return [key for key in text.replace(",", " ").split() if key]

    def node_data(self) -> dict[str, Any]:
        """The node as `template_save` takes it."""
        data = self.cleaned_data
        return {
            "key": data["key"],
            "title": data["title"],
            "department": data["department"],
            "offset_days": data["offset_days"],
            "time": data["time"].strftime("%H:%M"),
            "depends_on": data["depends_on"],
            "description": data["description"],
        }

    @staticmethod
    def initial_for(node: Any) -> dict[str, Any]:
        return {
            "key": node.key,
            "title": node.title,
            "department": node.department_code,
            "offset_days": node.offset_days,
            "time": node.time_of_day,
            "depends_on": ", ".join(node.depends_on),
            "description": node.description,
        }


TemplateNodeFormSet = forms.formset_factory(
    TemplateNodeForm, extra=3, can_delete=True, max_num=500, validate_max=True
)


class BulkEditForm(UIForm):
    """One change for the nodes ticked in the list: assign, set a status, or shift dates."""

    ASSIGN, STATUS, SHIFT = "assign", "status", "shift"
    ids = forms.TypedMultipleChoiceField(coerce=int, label=_("Nodes"))
    action = forms.ChoiceField(
        label=_("Change"),
        choices=[
            (ASSIGN, _("Assign to")),
            (STATUS, _("Set the status to")),
            (SHIFT, _("Shift the due dates by")),
        ],
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", "—"), *MilestoneStatus.choices], required=False
    )
    days = forms.IntegerField(label=_("Days"), min_value=-365, max_value=365, required=False)
    reason_code = reason_code_field()
    change_reason = forms.CharField(
        label=_("Reason for the change"), required=False, max_length=1000
    )

    def __init__(self, *args: Any, nodes: Any, assignees: Any, **kwargs: Any) -> None:
        # Its own ids: the list page's filter form beside it has an assignee and a status too,
        # and a label must point at its own field.
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = [(node.pk, node.title) for node in nodes]
        self.fields["assignee"].queryset = assignees

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == self.ASSIGN and not data.get("assignee"):
            self.add_error("assignee", _("Choose who to assign them to."))
        if action == self.STATUS and not data.get("status"):
            self.add_error("status", _("Choose a status."))
        if action == self.SHIFT and not data.get("days"):
            self.add_error("days", _("Give a number of days other than zero."))
        return data

    def change(self) -> dict[str, Any]:
        """The keyword arguments of `milestone_bulk_update` this form asks for."""
        data = self.cleaned_data
        if data["action"] == self.ASSIGN:
            return {"data": {"assignee": data["assignee"]}}
        if data["action"] == self.STATUS:
            return {"data": {"status": data["status"]}}
        return {"shift": timedelta(days=data["days"])}


class ReplanForm(UIForm):
    """A node's new due date from the timeline; the reason is asked for when it is baselined."""

    due_at = forms.DateTimeField(label=_("New due date"), widget=datetime_widget())
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason_code = reason_code_field()
    change_reason = forms.CharField(
        label=_("Reason for the change"), required=False, max_length=1000
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["due_at"].help_text = tz_help()
