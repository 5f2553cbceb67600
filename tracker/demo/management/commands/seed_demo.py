"""`manage.py seed_demo`: demo data for `make run`, so the board and the reports have a story.

Seven departments, their leads and a few members, a Double 11 campaign ten days before go-live
(baselined; nodes done on time, done late, overdue, one moved after the baseline with a reason)
and a product launch still in planning. People, projects and nodes are written through their
services; departments (plain rows with no rules, and no service yet) directly.

Idempotent: departments, people and projects are keyed by code, username and name, and a
project's story is only played when the project is created, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracker.accounts.models import Department, Language, User
from tracker.accounts.services import user_save
from tracker.milestones.models import Milestone, MilestoneStatus
from tracker.milestones.services import milestone_update
from tracker.projects.models import Project, ProjectKind, ProjectTemplate
from tracker.projects.services import project_activate, project_create

# One shared password, for the demo only: it is printed on screen.
DEMO_PASSWORD = "milepost-demo"

DEPARTMENTS = [
    ("merch", "Merchandising"),
    ("supply", "Supply chain"),
    ("design", "Design"),
    ("tech", "Tech"),
    ("marketing", "Marketing"),
    ("cs", "Customer service"),
    ("ops", "Operations"),
]


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    language: str = Language.EN
    department: str | None = None
    lead: bool = False  # leads `department`
    admin: bool = False
    owner: bool = False  # owns the demo projects


PEOPLE = [
    Person("admin", "Ada", "Admin", admin=True),
    Person("owner", "Mei", "Lin", Language.ZH_HANS, "ops", owner=True),
    Person("merch-lead", "Na", "Li", Language.ZH_HANS, "merch", lead=True),
    Person("supply-lead", "Wei", "Zhang", Language.EN, "supply", lead=True),
    Person("design-lead", "Emma", "Clark", Language.EN, "design", lead=True),
    Person("tech-lead", "Ravi", "Patel", Language.EN, "tech", lead=True),
    Person("marketing-lead", "Jie", "Chen", Language.ZH_HANS, "marketing", lead=True),
    Person("cs-lead", "Yang", "Liu", Language.ZH_HANS, "cs", lead=True),
    Person("ops-lead", "Sam", "Jones", Language.EN, "ops", lead=True),
    Person("wang.fang", "Fang", "Wang", Language.ZH_HANS, "merch"),
    Person("alex.kim", "Alex", "Kim", Language.EN, "tech"),
    Person("zhao.lei", "Lei", "Zhao", Language.ZH_HANS, "marketing"),
]


@dataclass(frozen=True)
class Step:
    """What happened to one template node: its status, when it was finished relative to its
    due date, or a move of its due date after the baseline (with the reason)."""

    status: str
    finished: timedelta | None = None  # completed_at - due_at, for done nodes
    moved_by: timedelta | None = None
    reason: str = ""
    reason_code: str = "supplier"  # the deviation reason of the move (or of a late finish)


DONE, IN_PROGRESS, BLOCKED = (
    MilestoneStatus.DONE,
    MilestoneStatus.IN_PROGRESS,
    MilestoneStatus.BLOCKED,
)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

# D-day in 10 days: the nodes up to D-11 are in the past.
CAMPAIGN_STORY = {
    "kickoff": Step(DONE, -2 * HOUR),
    "demand-forecast": Step(DONE, -DAY),
    "hero-sku-selection": Step(DONE, timedelta(0)),  # exactly at the due date: on time
    "stock-replenishment": Step(DONE, -5 * HOUR),
    "price-approval": Step(DONE, 2 * DAY + 4 * HOUR),  # late
    "event-page-design": Step(DONE, -DAY),
    "ad-creatives": Step(DONE, DAY + 2 * HOUR),  # late
    "private-domain-plan": Step(DONE, -3 * HOUR),
    "page-build": Step(
        IN_PROGRESS,
        moved_by=10 * DAY,
        reason="The platform changed its coupon rules; the promotion engine is reconfigured.",
    ),
    "live-stream-schedule": Step(IN_PROGRESS),  # overdue
    "ad-ab-test": Step(BLOCKED),  # overdue
    "stock-in-warehouse": Step(MilestoneStatus.TODO),  # overdue, untouched
    "cs-scripts": Step(IN_PROGRESS),
}
# D-day in 75 days, still planning: only the first two nodes are in the past.
LAUNCH_STORY = {
    "concept": Step(DONE, DAY + 6 * HOUR),  # late
    "c2m-survey": Step(IN_PROGRESS),  # overdue
}


def _local(day, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=timezone.get_current_timezone())


class Command(BaseCommand):
    help = gettext_lazy(
        "Load demo departments, people and two projects (idempotent) and print the logins."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        try:
            with transaction.atomic():
                created = self._seed(now)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        if created:
            self.stdout.write(self.style.SUCCESS(_("Demo data loaded.")))
        else:
            self.stdout.write(_("Demo data is already there; nothing changed."))
        self._print_logins()

    def _seed(self, now: datetime) -> bool:
        """Create what is missing; True when anything was created."""
        created = False
        for code, name in DEPARTMENTS:
            _department, new = Department.objects.get_or_create(code=code, defaults={"name": name})
            created |= new
        people = {}
        for person in PEOPLE:
            user = User.objects.filter(username=person.username).first()
            if user is None:
                user = user_save(
                    actor=None,
                    username=person.username,
                    email=f"{person.username}@example.com",
                    password=DEMO_PASSWORD,
                    language=person.language,
                    department_codes=[person.department] if person.department else [],
                    first_name=person.first_name,
                    last_name=person.last_name,
                    is_staff=person.admin,
                    is_superuser=person.admin,
                )
                created = True
            if person.lead:
                # Only fills an empty lead: a lead changed in the app stays.
                created |= bool(
                    Department.objects.filter(code=person.department, lead__isnull=True).update(
                        lead=user
                    )
                )
            people[person.username] = user
        owner = people[next(p.username for p in PEOPLE if p.owner)]
        created |= self._campaign(owner=owner, now=now)
        created |= self._launch(owner=owner, now=now)
        return created

    def _template(self, code: str) -> ProjectTemplate:
        template = ProjectTemplate.objects.filter(code=code).first()
        if template is None:
            raise CommandError(
                _("The shipped template %(code)s is missing: run `manage.py migrate` first.")
                % {"code": code}
            )
        return template

    def _campaign(self, *, owner: User, now: datetime) -> bool:
        name = "Double 11 (demo)"
        if Project.objects.filter(name=name).exists():
            return False
        d_day = _local(timezone.localdate(now) + timedelta(days=10), time(0, 0))
        planned_at = d_day - timedelta(days=62)
        project = project_create(
            actor=owner,
            name=name,
            kind=ProjectKind.CAMPAIGN,
            d_day=d_day,
            owner=owner,
            template=self._template("sale-campaign"),
            now=planned_at,
        )
        project_activate(project=project, actor=owner, now=planned_at + DAY)
        self._play(project, CAMPAIGN_STORY, actor=owner, now=now)
        return True

    def _launch(self, *, owner: User, now: datetime) -> bool:
        name = "Aurora earbuds launch (demo)"
        if Project.objects.filter(name=name).exists():
            return False
        d_day = _local(timezone.localdate(now) + timedelta(days=75), time(10, 0))
        project = project_create(
            actor=owner,
            name=name,
            kind=ProjectKind.LAUNCH,
            d_day=d_day,
            owner=owner,
            template=self._template("product-launch"),
            deviation_threshold=Decimal("0.15"),
            now=d_day - timedelta(days=100),
        )
        self._play(project, LAUNCH_STORY, actor=owner, now=now)
        return True

    def _play(self, project: Project, story: dict[str, Step], *, actor: User, now: datetime):
        """Apply each node's step as its assignee would have, dated when it happened."""
        nodes = Milestone.objects.filter(project=project, template_key__in=story).select_related(
            "assignee"
        )
        for node in nodes:
            step = story[node.template_key]
            who = node.assignee or actor
            if step.moved_by:
                milestone_update(
                    milestone_id=node.pk,
                    actor=actor,
                    data={"due_at": node.due_at + step.moved_by},
                    change_reason=step.reason,
                    reason_code=step.reason_code,
                    now=now - DAY,
                )
            if step.status == DONE:
                finished = min(node.due_at + step.finished, now)
                milestone_update(
                    milestone_id=node.pk,
                    actor=who,
                    data={"status": DONE, "completed_at": finished},
                    # A baselined node finished late says why, as its assignee would.
                    reason_code=step.reason_code
                    if step.moved_by or step.finished > timedelta(0)
                    else "",
                    now=finished,
                )
            elif step.status != node.status:  # started (or stuck) two days before the due date
                milestone_update(
                    milestone_id=node.pk,
                    actor=who,
                    data={"status": step.status},
                    now=min(node.due_at - 2 * DAY, now),
                )

    def _print_logins(self) -> None:
        departments = dict(DEPARTMENTS)
        rows = []
        for person in PEOPLE:
            if person.admin:
                role = _("Administrator (superuser)")
            elif person.owner:
                role = _("Project owner")
            elif person.lead:
                role = _("Lead, %(department)s") % {"department": departments[person.department]}
            else:
                role = _("Member, %(department)s") % {"department": departments[person.department]}
            rows.append((person.username, DEMO_PASSWORD, role))
        header = (_("Username"), _("Password"), _("Role"))
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
        lines = [header, tuple("-" * width for width in widths), *rows]
        self.stdout.write("")
        self.stdout.write(
            _("Sign in at %(url)s as one of these (one shared password, for this demo only):")
            % {"url": settings.SITE_URL}
        )
        self.stdout.write("")
        for line in lines:
            self.stdout.write(
                "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            )
        self.stdout.write("")
