"""Alerts raised by the deadline scan; the outbox (`tracker.notifications`) tells people and
channels about them.

Exactly-once is a property of the data: one alert per (node, kind, due date), and one outbox row
per dedupe key (a scan and a person, a scan and a channel…). Alerts are
fanned out only by the scan that inserted them, in the same transaction. Scans and workers may
race; the constraints decide who wins.
"""

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalation")
    ESCALATION_OWNER = "escalation_owner", _("Escalation to owner")
    ESCALATION_CONTACT = "escalation_contact", _("Escalation to contact")
    NUDGE = "nudge", _("Still overdue")
    RESOLVED = "resolved", _("Resolved")
    FORECAST_SLIP = "forecast_slip", _("Forecast late")
    D_DAY_AT_RISK = "d_day_at_risk", _("D-day at risk")

    @classmethod
    def problems(cls) -> list[str]:
        """Kinds that describe a problem and stay open until the node is resolved."""
        return [
            cls.DUE_SOON,
            cls.OVERDUE,
            *cls.rungs()[1:],
            cls.NUDGE,
            cls.FORECAST_SLIP,
            cls.D_DAY_AT_RISK,
        ]

    @classmethod
    def rungs(cls) -> list[str]:
        """The escalation ladder, one kind a rung: rung n is `rungs()[n - 1]`."""
        return [cls.OVERDUE, cls.ESCALATION, cls.ESCALATION_OWNER, cls.ESCALATION_CONTACT]

    @classmethod
    def episodic(cls) -> list[str]:
        """Kinds raised once per lateness episode (nudges: once per slot of it)."""
        return [*cls.rungs(), cls.NUDGE]

    @classmethod
    def urgency(cls, kind: str) -> int:
        """Sort key: most urgent first."""
        return [
            cls.ESCALATION_CONTACT,
            cls.ESCALATION_OWNER,
            cls.ESCALATION,
            cls.D_DAY_AT_RISK,
            cls.OVERDUE,
            cls.NUDGE,
            cls.FORECAST_SLIP,
            cls.DUE_SOON,
            cls.RESOLVED,
        ].index(kind)


# The key of the index of open problems (the resolution step reads them all). It was the
# single escalation window's range; the ladder now reads lateness episodes instead, and the
# index and `escalated_at` go with the scan side's index trimming (docs/escalation.md).
# When an open overdue alert is waiting for its escalation: from its due date (the project's
# `escalate_after` later, it escalates); NULL for every other alert. Also the key of the index
# of open problems, which thus serves the escalation step as a range.
ESCALATES_FROM = Case(
    When(Q(kind=AlertKind.OVERDUE, escalated_at__isnull=True), then=F("due_at")),
    output_field=models.DateTimeField(),
)


class AlertQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)

    def open_problems(self):
        return self.open().filter(kind__in=AlertKind.problems())


class Alert(models.Model):
    """One thing the scan noticed about one node for one due date.

    `due_at` is the due date the alert was raised for: moving the node later resolves the alert,
    and a new alert for the new date is a different row. `project` and `department` are the
    node's when the alert was raised (chat channels follow them). `scan_id` names the scan that
    raised it, so that scan (and only it) fans the alert out. `escalated_at` marks an overdue
    alert whose escalation exists, which takes it out of the escalation step's index.
    """

    # Not checked by a database constraint: a scan raises thousands of alerts at once, and the
    # check of each (a lookup, and a row lock that writes the node's heap page) would cost a
    # scan more than raising them. What the constraint would guard is kept instead by:
    # - the node-deletion lock (`tracker.core.locks`): every scan holds its shared side for its
    #   whole transaction, every service deleting nodes its exclusive side, so a deletion
    #   waits for the running scans to commit and a scan never reads a node being deleted;
    # - a trigger (migration 0004) that deletes a deleted node's alerts, whoever deletes it,
    #   after those waits: its own query sees the alerts they committed;
    # - Django's cascade, which deletes them first when the ORM deletes the node.
    milestone = models.ForeignKey(
        "milestones.Milestone",
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("milestone"),
        db_index=False,  # the unique (milestone, kind, due_at) index serves these lookups
        db_constraint=False,
    )
    # Copies of the node's project and department when the alert was raised (filters and chat
    # channels read them without a join). The node's own foreign keys guard them, so the
    # database does not check them again: that would lock two more rows per alert a scan raises.
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("project"),
        db_index=False,  # covered by the (project, created_at) index
        db_constraint=False,
    )
    department = models.ForeignKey(
        "accounts.Department",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("department"),
        db_index=False,  # nodes PROTECT their department, and alerts go with their nodes
        db_constraint=False,
        null=True,  # the scan always sets it
        blank=True,
    )
    # Who hears about it, copied from the node when the alert is raised: its assignee (or else
    # its department's lead) and that lead. The scan that raises the alert fans it out from
    # these in the same transaction, without reading the node again. Nothing else reads them,
    # so they are neither kept up to date nor checked by the database.
    notify_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
        null=True,
        blank=True,
        editable=False,
    )
    notify_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
        null=True,
        blank=True,
        editable=False,
    )
    # The lateness episode a rung or a nudge belongs to (None for every other kind), and the
    # nudge's slot in it (0 for the rest): episodic alerts are unique per (episode, kind, slot),
    # so a re-planned node climbs its ladder once, whatever its due date became.
    episode = models.ForeignKey(
        "milestones.LatenessEpisode",
        on_delete=models.CASCADE,
        related_name="alerts",
        null=True,
        blank=True,
        db_index=False,  # the unique (episode, kind, sequence) index serves these lookups
        db_constraint=False,  # the episode goes with its node, and so do its alerts
        editable=False,
    )
    sequence = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    kind = models.CharField(_("kind"), max_length=24, choices=AlertKind.choices)
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(_("raised at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, editable=False)
    scan_id = models.UUIDField(editable=False)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "kind", "due_at"],
                condition=Q(episode__isnull=True),
                name="alerts_alert_once_per_due_date",
            ),
            models.UniqueConstraint(
                fields=["episode", "kind", "sequence"],
                condition=Q(episode__isnull=False),
                name="alerts_alert_once_per_episode",
            ),
        ]
        indexes = [
            # The API's newest-first list, and a scan finding the alerts it raised.
            models.Index(fields=["created_at"]),
            models.Index(fields=["project", "created_at"]),
            # The open problems: the resolution step reads them all, the escalation step the
            # range of those waiting to escalate (the others' key is NULL, and sorts last).
            models.Index(
                ESCALATES_FROM,
                condition=Q(resolved_at__isnull=True) & ~Q(kind="resolved"),
                name="alerts_open_problems",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.milestone_id} @ {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class SnoozeVia(models.TextChoices):
    WEB = "web", _("Web")
    EMAIL = "email", _("Email link")
    CHAT = "chat", _("Chat command")
    API = "api", _("API")


class AlertSnooze(models.Model):
    """A person snoozed an alert until `until`: the repeat nudges of its lateness episode pause
    until then (the ladder still climbs: only a promise holds it). Kept for the node's
    history."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="snoozes")
    episode = models.ForeignKey(
        "milestones.LatenessEpisode",
        on_delete=models.CASCADE,
        related_name="snoozes",
        null=True,
        blank=True,
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(_("snoozed until"))
    via = models.CharField(_("via"), max_length=8, choices=SnoozeVia.choices)
    created_at = models.DateTimeField(_("snoozed at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("snooze")
        verbose_name_plural = _("snoozes")

    def __str__(self) -> str:
        return f"{self.alert_id} snoozed by {self.user_id} until {self.until:%Y-%m-%d %H:%M}"


class ScanMark(models.Model):
    """Where a kind of scan left off: the `now` of its last run, and for the quarter-hour scan
    the due date up to which every project's due-soon window had reached (`reminded_until`).

    The next run reads only what can have changed since: nodes written after `scanned_at`
    (`MilestoneQuerySet.changed_since`), nodes that went overdue after it, and due dates past
    `reminded_until`. One row per kind of scan, locked by the run that uses it, so racing runs
    take turns. Without a row (or with one ahead of `now`), a run reads everything."""

    name = models.CharField(max_length=40, primary_key=True)
    scanned_at = models.DateTimeField(null=True, blank=True)  # None: no run yet
    reminded_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.scanned_at}"
