"""The monthly deep analysis (docs/monthly-analysis.md): what a head of operations takes into the
monthly review, computed over the month's report population (`report_population`, the rate of
record's one definition) and attached to the monthly report as `report["analysis"]`.

- comparisons: the month's figure of record against the previous month and the same month last
  year (a snapshot taken after a month closed is its figure; otherwise today's recomputation).
- attribution: who really slipped, per department and project (`forecast.slip_attribution`).
- pareto: deviated nodes and slip days by reason code, with the cumulative share.
- distribution: on time, late by ≤ 1, 1–3, 3–7, > 7 working days, still open, per department.
- repeat_offenders: template node keys and departments late in ≥ 2 of the template's last 3
  campaigns.
- churn: re-plans, and the promise-kept rate (`promises`, the one definition).
- trend_12_months: the figures of the twelve months ending with this one.

Every slip here is the attribution's: working days from the planned due day to the completion
day (or `as_of` for an open node), the project's war room counted as worked. A constant number
of queries, whatever the size of the month.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, RowNumber, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tracker.milestones.forecast import slip_attribution
from tracker.milestones.models import Milestone, MilestoneChange, MilestoneStatus, Promise
from tracker.projects.models import Project, TemplateNode
from tracker.reports.models import ReportSnapshot
from tracker.reports.periods import Period, PeriodKind
from tracker.reports.population import (
    DEVIATED,
    _aggregates,
    _figures,
    _reason_names,
    report_population,
)

UNSPECIFIED = "unspecified"  # the Pareto's row for deviated nodes whose history has no reason
TREND_MONTHS = 12
REPEAT_CAMPAIGNS = 3  # a template's last campaigns a repeat offender is looked for in
REPEAT_LATE_IN = 2  # … and in how many of them it must be late
# Lateness buckets of a node done late: (key, the largest slip in working days it holds; None,
# no limit).
LATE_BUCKETS = (("up_to_1", 1), ("from_1_to_3", 3), ("from_3_to_7", 7), ("over_7", None))
DISTRIBUTION_KEYS = ("on_time", *(key for key, _bound in LATE_BUCKETS), "open")
# What each bucket is called wherever the distribution is shown (page, exports, email).
DISTRIBUTION_LABELS = {
    "on_time": gettext_lazy("On time"),
    "up_to_1": gettext_lazy("≤ 1 working day late"),
    "from_1_to_3": gettext_lazy("1–3 working days late"),
    "from_3_to_7": gettext_lazy("3–7 working days late"),
    "over_7": gettext_lazy("> 7 working days late"),
    "open": gettext_lazy("Still open"),
}
CHURN_KEYS = ("replanned_nodes", "replans", "promises", "promises_kept")


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def node_reason() -> Subquery:
    """A node's reason code: the latest one its history carries (a late completion's, a
    re-plan's, …), none when it never needed one."""
    return Subquery(
        MilestoneChange.objects.filter(milestone=OuterRef("pk"))
        .exclude(reason_code="")
        .order_by("-created_at", "-id")
        .values("reason_code")[:1]
    )


def replan_condition() -> Q:
    """A re-plan: a change of a baselined node's due date made after its project was
    baselined (dates moved while planning are not promises)."""
    return Q(field="due_at", created_at__gte=F("milestone__project__baselined_at"))


def promises(*, nodes: QuerySet[Milestone], as_of: datetime) -> QuerySet:
    """The dates promised for `nodes` after their first (the baseline): each re-plan's new due
    date. One row per promise: `node_id`, `department_id`, `promised_at` and `kept`:

    - True: the node was completed by the promised moment (exactly at it is kept);
    - False: it was not, and the moment has passed by `as_of` (or the node was done later);
    - None: not yet due and the node still open (left out of the promise-kept rate).

    A promise superseded by a later re-plan is still judged on its own date. The promises of
    acknowledged lateness episodes (`milestones.Promise`, docs/escalation.md) are rows too,
    judged by the same rule."""
    replans = (
        MilestoneChange.objects.filter(
            replan_condition(), milestone__in=nodes.values("pk"), created_at__lte=as_of
        )
        .annotate(
            department_id=F("milestone__department_id"),
            promised_at=Cast("new_value", DateTimeField()),
        )
        .annotate(kept=promise_kept(as_of=as_of))
        .values("node_id", "department_id", "promised_at", "kept")
        .order_by()
    )
    # Only annotations, in the order of the re-plans' columns (a UNION matches by position).
    acknowledged = (
        Promise.objects.filter(milestone__in=nodes.values("pk"), created_at__lte=as_of)
        .annotate(
            promise_node=F("milestone_id"),
            promise_department=F("milestone__department_id"),
            promise_at=F("promised_at"),
            promise_kept=promise_kept(as_of=as_of),
        )
        .values("promise_node", "promise_department", "promise_at", "promise_kept")
        .order_by()
    )
    return replans.union(acknowledged, all=True)


def promise_kept(*, as_of: datetime, node: str = "milestone__") -> Case:
    """Whether a promise was kept (True), broken (False) or is not yet due (None), for a row
    with a `promised_at` whose node is reached through `node`: the rule of `promises`, for
    every source of promises."""
    done = Q(**{f"{node}status": MilestoneStatus.DONE})
    return Case(
        When(done & Q(**{f"{node}completed_at__lte": F("promised_at")}), then=Value(True)),
        When(done | Q(promised_at__lte=as_of), then=Value(False)),
        default=Value(None),
        output_field=BooleanField(null=True),
    )


def monthly_analysis(
    period: Period,
    as_of: datetime,
    *,
    project_id: int | None = None,
    department_id: int | None = None,
) -> dict[str, Any]:
    """The analysis of one month and scope (the shape of docs/monthly-analysis.md)."""
    scope = {"project_id": project_id, "department_id": department_id}
    population = report_population(start=period.start, end=period.end, as_of=as_of, **scope)
    rows = list(
        population.annotate(
            reason=Coalesce(node_reason(), Value(UNSPECIFIED)),
            deviated=ExpressionWrapper(DEVIATED, output_field=BooleanField()),
        )
        .values(
            "id",
            "project_id",
            "department_id",
            "department__name",
            "status",
            "reason",
            "deviated",
        )
        .order_by()
    )
    projects = list(Project.objects.filter(pk__in={row["project_id"] for row in rows}))
    slips = slip_attribution(projects=projects, now=as_of).nodes
    history = _months_of_record(period, as_of=as_of, **scope)
    return {
        "month": period.label,
        "comparisons": _comparisons(history),
        "attribution": _attribution(rows, slips, projects),
        "pareto": _pareto(rows, slips),
        "distribution": _distribution(rows, slips),
        "repeat_offenders": _repeat_offenders(
            projects, period=period, as_of=as_of, department_id=department_id
        ),
        "churn": _churn(rows, population, as_of=as_of),
        "trend_12_months": [
            {"month": month.label, **_month_figures(figures)}
            for month, figures in list(history.items())[1:]
        ],
    }


# Comparisons and the 12-month trend -----------------------------------------------------------


def _months_of_record(
    period: Period, *, as_of: datetime, project_id: int | None, department_id: int | None
) -> dict[Period, dict[str, Any]]:
    """The figure of record of the month and of the twelve before it, oldest first. Two
    queries: the live figures of all thirteen months grouped by month, and their snapshots."""
    months = [period]
    for _step in range(TREND_MONTHS):
        months.append(months[-1].previous())
    months.reverse()
    zone = timezone.get_current_timezone()
    live = {
        timezone.localtime(row["month"]).strftime("%Y-%m"): _figures(row)
        for row in report_population(
            start=months[0].start,
            end=period.end,
            as_of=as_of,
            project_id=project_id,
            department_id=department_id,
        )
        .annotate(month=TruncMonth("planned_due", tzinfo=zone))
        .values("month")
        .annotate(**_aggregates(as_of))
        .order_by()
    }
    snapshots = ReportSnapshot.objects.filter(
        kind=PeriodKind.MONTH,
        label__in=[month.label for month in months],
        superseded_at__isnull=True,
    )
    if project_id is not None:
        snapshots = snapshots.filter(scope=f"project:{project_id}")
    elif department_id is not None:
        snapshots = snapshots.filter(department_id=department_id, scope__startswith="department:")
    else:
        snapshots = snapshots.filter(scope="all")
    # Only a snapshot taken once its month had closed is that month's figure of record.
    record = {
        snapshot.label: snapshot
        for snapshot in snapshots.only("label", "as_of", "period_end", "deviation_rate", "data")
        if snapshot.as_of >= snapshot.period_end
    }
    history: dict[Period, dict[str, Any]] = {}
    for month in months:
        snapshot = record.get(month.label)
        if snapshot is not None:
            data = snapshot.data
            history[month] = {
                "deviation_rate": snapshot.deviation_rate,
                "due_count": data.get("due_count", 0),
                "late_count": data.get("late_count", 0),
                "deviated_count": data.get("deviated_count", 0),
                "of_record": True,
            }
        else:
            figures = live.get(month.label)
            history[month] = {
                "deviation_rate": figures["deviation_rate"] if figures else None,
                "due_count": figures["due_count"] if figures else 0,
                "late_count": figures["late_count"] if figures else 0,
                "deviated_count": figures["deviated_count"] if figures else 0,
                "of_record": False,
            }
    return history


def _comparisons(history: dict[Period, dict[str, Any]]) -> dict[str, Any]:
    """The last month of `history` against the one before and the one a year before."""
    months = list(history)
    first, this = months[0], months[-1]
    current = history[this]

    def against(month: Period) -> dict[str, Any]:
        figures = history[month]
        rate, now_rate = figures["deviation_rate"], current["deviation_rate"]
        return {
            "month": month.label,
            **_month_figures(figures),
            "rate_change": round(now_rate - rate, 4)
            if rate is not None and now_rate is not None
            else None,
        }

    year_before = history[first]
    return {
        "previous_month": against(months[-2]),
        "same_month_last_year": against(first)
        if year_before["of_record"] or year_before["due_count"]
        else None,
    }


def _month_figures(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        key: figures[key] for key in ("deviation_rate", "due_count", "late_count", "deviated_count")
    }


# Attribution, Pareto and distribution (the month's nodes) ------------------------------------


def _attribution(rows: list[dict], slips: dict, projects: list[Project]) -> dict[str, Any]:
    """Per department and per project: nodes late (slip > 0), own and inherited working days,
    and the days they caused downstream in other departments' nodes."""
    keys = ("late_count", "own_days", "inherited_days", "caused_downstream_days")
    departments: dict[int, dict[str, Any]] = {}
    by_project: dict[int, dict[str, Any]] = {}
    names = {project.pk: project.name for project in projects}
    for row in rows:
        slip = slips.get(row["id"])
        if slip is None:
            continue
        for table, pk, id_key, name in (
            (departments, row["department_id"], "department_id", row["department__name"]),
            (by_project, row["project_id"], "project_id", names[row["project_id"]]),
        ):
            totals = table.setdefault(pk, {id_key: pk, "name": name, **dict.fromkeys(keys, 0)})
            totals["late_count"] += slip.slip > 0
            totals["own_days"] += slip.own
            totals["inherited_days"] += slip.inherited
            totals["caused_downstream_days"] += slip.caused_other_departments

    def ranked(table: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        for totals in table.values():
            for key in keys[1:]:
                totals[key] = float(totals[key])
        return sorted(
            table.values(),
            key=lambda t: (
                -t["own_days"],
                -t["caused_downstream_days"],
                -t["late_count"],
                t["name"],
            ),
        )

    return {"departments": ranked(departments), "projects": ranked(by_project)}


def _pareto(rows: list[dict], slips: dict) -> list[dict[str, Any]]:
    """The deviated nodes and their slip days by reason code, most frequent first."""
    counts: dict[str, int] = defaultdict(int)
    days: dict[str, int] = defaultdict(int)
    for row in rows:
        if row["deviated"]:
            counts[row["reason"]] += 1
            slip = slips.get(row["id"])
            days[row["reason"]] += slip.slip if slip else 0
    if not counts:
        return []
    names = {**_reason_names(), UNSPECIFIED: _("Unspecified")}
    total = sum(counts.values())
    result, running = [], 0
    for code in sorted(counts, key=lambda code: (-counts[code], -days[code], code)):
        running += counts[code]
        result.append(
            {
                "reason_code": code,
                "name": names.get(code, code),
                "deviated_count": counts[code],
                "slip_days": float(days[code]),
                "share": _share(counts[code], total),
                "cumulative_share": _share(running, total),
            }
        )
    return result


def lateness_bucket(*, deviated: bool, done: bool, slip_days: int) -> str:
    """Where a node of the population falls in the distribution: on time (not deviated), still
    open (deviated and not done), else by its slip in working days: up_to_1 (≤ 1, also a node
    late by hours on the same day), from_1_to_3 (2–3), from_3_to_7 (4–7), over_7 (> 7)."""
    if not deviated:
        return "on_time"
    if not done:
        return "open"
    for key, bound in LATE_BUCKETS:
        if bound is None or slip_days <= bound:
            return key
    raise AssertionError("the last bucket has no bound")  # pragma: no cover


def _distribution(rows: list[dict], slips: dict) -> list[dict[str, Any]]:
    """Each department's nodes by lateness bucket, by name, then a totals row (`totals`)."""
    departments: dict[int, dict[str, Any]] = {}
    totals = {"department_id": None, "name": _("All departments"), "totals": True}
    totals.update(dict.fromkeys(DISTRIBUTION_KEYS, 0))
    for row in rows:
        slip = slips.get(row["id"])
        bucket = lateness_bucket(
            deviated=row["deviated"],
            done=row["status"] == MilestoneStatus.DONE,
            slip_days=slip.slip if slip else 0,
        )
        department = departments.setdefault(
            row["department_id"],
            {
                "department_id": row["department_id"],
                "name": row["department__name"],
                "totals": False,
                **dict.fromkeys(DISTRIBUTION_KEYS, 0),
            },
        )
        department[bucket] += 1
        totals[bucket] += 1
    if not departments:
        return []
    return [*sorted(departments.values(), key=lambda d: d["name"]), totals]


# Repeat offenders ------------------------------------------------------------------------------


def _repeat_offenders(
    projects: list[Project], *, period: Period, as_of: datetime, department_id: int | None
) -> list[dict[str, Any]]:
    """Template node keys and departments late in at least two of the last three campaigns of
    a template the month's projects were made from. A template's campaigns are its baselined
    projects with a node due by the month's end, the last three by D-day; a node is late when
    it is deviated by then (done after its planned due, or still open). Three queries."""
    template_ids = {project.template_id for project in projects if project.template_id}
    if not template_ids:
        return []
    boundary = min(period.end, as_of)
    started = Milestone.objects.counted_in_reports().filter(
        project=OuterRef("pk"), planned_due__lt=boundary
    )
    campaigns = list(
        Project.objects.filter(template_id__in=template_ids, baselined_at__isnull=False)
        .filter(Exists(started))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("template_id")],
                order_by=[F("d_day").desc(), F("pk").desc()],
            )
        )
        .filter(rank__lte=REPEAT_CAMPAIGNS)
        .values("pk", "name", "d_day", "template_id", "template__name", "template__code")
        .order_by("d_day", "pk")
    )
    late = (
        Milestone.objects.counted_in_reports()
        .filter(
            DEVIATED,
            project_id__in=[campaign["pk"] for campaign in campaigns],
            planned_due__lt=boundary,
        )
        .exclude(template_key="")
    )
    if department_id is not None:
        late = late.filter(department_id=department_id)
    # One row per (template, key, department, campaign) late: a few per key, grouped here.
    late_in: dict[tuple[int, str, int], set[int]] = defaultdict(set)
    names: dict[tuple[int, str, int], tuple[str, str]] = {}
    for row in (
        late.values(
            "project__template_id",
            "template_key",
            "department_id",
            "department__name",
            "project_id",
        )
        .annotate(title=Max("title"))
        .order_by()
    ):
        key = (row["project__template_id"], row["template_key"], row["department_id"])
        late_in[key].add(row["project_id"])
        names[key] = (row["department__name"], row["title"])
    repeated = [key for key, runs in late_in.items() if len(runs) >= REPEAT_LATE_IN]
    if not repeated:
        return []
    titles = {
        (template, key): title
        for template, key, title in TemplateNode.objects.filter(
            template_id__in={template for template, _key, _department in repeated},
            key__in={key for _template, key, _department in repeated},
        ).values_list("template_id", "key", "title")
    }
    by_template: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for campaign in campaigns:  # oldest first
        by_template[campaign["template_id"]].append(campaign)
    result = []
    for template, key, department in repeated:
        runs = by_template[template]
        department_name, title = names[(template, key, department)]
        result.append(
            {
                "template_id": template,
                "template_name": runs[0]["template__name"],
                "template_key": key,
                "title": titles.get((template, key), title),
                "department_id": department,
                "department_name": department_name,
                "late_in": [
                    run["name"] for run in runs if run["pk"] in late_in[(template, key, department)]
                ],
                "of_campaigns": len(runs),
            }
        )
    result.sort(key=lambda r: (-len(r["late_in"]), r["template_name"], r["title"]))
    return result


# Re-plan churn and promises -------------------------------------------------------------------


def _churn(rows: list[dict], population: QuerySet[Milestone], *, as_of: datetime) -> dict:
    """Per department of the month's nodes: how many were re-planned and how often, and of
    the promises judged by `as_of`, how many were kept. Two queries."""
    departments: dict[int, dict[str, Any]] = {}
    for row in rows:
        departments.setdefault(
            row["department_id"],
            {
                "department_id": row["department_id"],
                "name": row["department__name"],
                **dict.fromkeys(CHURN_KEYS, 0),
            },
        )
    for group in (
        MilestoneChange.objects.filter(
            replan_condition(), milestone__in=population.values("pk"), created_at__lte=as_of
        )
        .values("milestone__department_id")
        .annotate(replans=Count("id"), replanned_nodes=Count("milestone_id", distinct=True))
        .order_by()
    ):
        department = departments[group["milestone__department_id"]]
        department["replans"] = group["replans"]
        department["replanned_nodes"] = group["replanned_nodes"]
    for promise in promises(nodes=population, as_of=as_of):
        if promise["kept"] is None or promise["department_id"] not in departments:
            continue
        department = departments[promise["department_id"]]
        department["promises"] += 1
        department["promises_kept"] += promise["kept"]
    totals = {key: sum(d[key] for d in departments.values()) for key in CHURN_KEYS}
    for figures in (*departments.values(), totals):
        figures["promise_kept_rate"] = _share(figures["promises_kept"], figures["promises"])
    return {
        "departments": sorted(departments.values(), key=lambda d: (-d["replans"], d["name"])),
        "totals": totals,
    }
