"""How a report reads in an email and a chat message (the same wording in both, in every
language). The email renderer is registered with the outbox (this module is imported by
`NotificationsConfig.ready`, like an admin module); chat messages are built when queued."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tracker.core.delivery import NothingToSend
from tracker.notifications import links
from tracker.notifications.emails import (
    InlineImage,
    RenderedEmail,
    email_render,
    email_renderer,
)
from tracker.notifications.models import (
    ChannelEvent,
    OutboxEvent,
    OutboxMessage,
    PreferenceChannel,
)
from tracker.notifications.preferences import kinds_switched_off, unsubscribe_headers
from tracker.notifications.texts import label_list, percent
from tracker.reports.analysis import UNSPECIFIED
from tracker.reports.models import PeriodKind, ReportSnapshot
from tracker.reports.population import _reason_names

if TYPE_CHECKING:
    from tracker.reports.charts import Chart


def report_title(kind: str, label: str, rate: float | None, breached: bool) -> str:
    values = {"label": label, "rate": percent(rate)}
    if kind == PeriodKind.WEEK:
        title = _("Weekly report %(label)s: %(rate)s of nodes deviated") % values
    else:
        title = _("Monthly report %(label)s: %(rate)s of nodes deviated") % values
    if breached:
        title = _("%(title)s (above threshold)") % {"title": title}
    return title


def report_summary(report: dict) -> str:
    """'40 due: 34 on time, 4 late, 2 still open (threshold 10.0%)'."""
    return _(
        "%(due)s due: %(on_time)s on time, %(late)s late, %(open)s still open "
        "(threshold %(threshold)s)"
    ) % {
        "due": report.get("due_count", 0),
        "on_time": report.get("on_time_count", 0),
        "late": report.get("late_count", 0),
        "open": report.get("open_overdue_count", 0),
        "threshold": percent(report.get("threshold")),
    }


def signed_points(change: float | None) -> str:
    """A rate change as signed percentage points: '+2.5 pts', '−1.0 pts', '–' for none."""
    if change is None:
        return "–"
    return _("%(sign)s%(points)s pts") % {
        "sign": "+" if change > 0 else "−" if change < 0 else "±",
        "points": f"{abs(change) * 100:.1f}",
    }


def comparison_lines(analysis: dict[str, Any]) -> list[str]:
    """The headline's comparisons: against the previous month and the same month last year."""
    lines = []
    comparisons = analysis.get("comparisons") or {}
    for key, text in (
        ("previous_month", _("vs %(month)s: %(change)s (was %(rate)s)")),
        ("same_month_last_year", _("vs %(month)s last year: %(change)s (was %(rate)s)")),
    ):
        other = comparisons.get(key)
        if other:
            lines.append(
                text
                % {
                    "month": other["month"],
                    "change": signed_points(other.get("rate_change")),
                    "rate": percent(other.get("deviation_rate")),
                }
            )
    return lines


def reason_name(row: dict[str, Any], names: dict[str, str]) -> str:
    """A Pareto row's reason in the active language (the analysis stored its job's)."""
    if row["reason_code"] == UNSPECIFIED:
        return _("Unspecified")
    return names.get(row["reason_code"]) or row["name"]


def monthly_summary_lines(analysis: dict[str, Any]) -> list[str]:
    """What a chat channel gets of the monthly analysis: the comparisons and the top three
    reasons (the headline and the link are the message's own)."""
    names = _reason_names()
    top = analysis.get("pareto", [])[:3]
    lines = comparison_lines(analysis)
    if top:
        lines.append(
            _("Top reasons: %(reasons)s")
            % {
                "reasons": label_list(
                    _("%(reason)s %(count)s (%(share)s)")
                    % {
                        "reason": reason_name(row, names),
                        "count": row["deviated_count"],
                        "share": percent(row["share"]),
                    }
                    for row in top
                )
            }
        )
    return lines


def report_payload(
    *, event: str, kind: str, label: str, report: dict[str, Any], url: str, language: str
) -> dict[str, Any]:
    """The chat message of a report, stored whole when queued; a monthly one with its
    analysis also says how the month compares and its top three reasons."""
    with translation.override(language):
        summary = report_summary(report)
        if kind == PeriodKind.MONTH and report.get("analysis"):
            summary = "\n".join([summary, *monthly_summary_lines(report["analysis"])])
        return {
            "event": event,
            "title": report_title(
                kind, label, report.get("deviation_rate"), bool(report.get("breached"))
            ),
            "summary": summary,
            "url": url,
            "items": [],
            "report": report,
        }


def snapshot_url(snapshot: ReportSnapshot) -> str:
    return links.report_url(
        PeriodKind(snapshot.kind).adjective,
        snapshot.label,
        project_id=snapshot.project_id,
        department_id=snapshot.department_id,
    )


@email_renderer(OutboxEvent.WEEKLY_REPORT, OutboxEvent.MONTHLY_REPORT)
def report_email(message: OutboxMessage, now: datetime) -> RenderedEmail:
    snapshot = ReportSnapshot.objects.filter(pk=message.payload.get("snapshot_id")).first()
    off = kinds_switched_off(user=message.recipient, channel=PreferenceChannel.EMAIL)
    if snapshot is None or message.event in off:
        raise NothingToSend
    report = report_for_display(snapshot.data)
    subject = report_title(
        snapshot.kind, snapshot.label, report["deviation_rate"], report["breached"]
    )
    monthly = snapshot.kind == PeriodKind.MONTH
    analysis = (
        analysis_for_display(snapshot.data["analysis"])
        if monthly and snapshot.data.get("analysis")
        else None
    )
    charts = snapshot_charts(snapshot, analysis) if analysis else []
    return email_render(
        "report",
        subject,
        {
            "recipient": message.recipient,
            "snapshot": snapshot,
            "report": report,
            "monthly": monthly,
            "analysis": analysis,
            "charts": {chart.cid.replace("-", "_"): chart for chart in charts},
            "url": snapshot_url(snapshot),
            "settings_url": links.settings_url(),
            "kinds_text": label_list([ChannelEvent(message.event).label]),
        },
        headers=unsubscribe_headers(user=message.recipient, kinds=[message.event]),
        images=[InlineImage(cid=chart.cid, content=chart.png) for chart in charts],
    )


# The charts of the snapshots a worker sent last, by snapshot, version and language: every
# recipient of one language gets the same images, drawn once (about 0.2 s each).
_CHARTS: dict[tuple[int, str, str], list[Chart]] = {}
_CHARTS_KEPT = 8


def snapshot_charts(snapshot: ReportSnapshot, analysis: dict[str, Any]) -> list[Chart]:
    """The monthly charts of `snapshot` in the active language (`tracker.reports.charts`)."""
    # matplotlib (about 55 MiB of RSS with numpy and Pillow) is loaded only by the process
    # that renders a monthly email, not by every web and worker process.
    from tracker.reports.charts import monthly_charts  # noqa: PLC0415  (see above)

    key = (snapshot.pk, snapshot.as_of.isoformat(), translation.get_language() or "")
    if key not in _CHARTS:
        if len(_CHARTS) >= _CHARTS_KEPT:
            _CHARTS.clear()
        _CHARTS[key] = monthly_charts({**snapshot.data, "analysis": analysis})
    return _CHARTS[key]


def analysis_for_display(analysis: dict[str, Any]) -> dict[str, Any]:
    """The stored analysis with its reasons and totals row named in the active language, its
    shares as percentages and the comparisons as lines, ready for the email's tables."""
    names = _reason_names()
    churn = analysis.get("churn") or {}
    return {
        **analysis,
        "comparison_lines": comparison_lines(analysis),
        "trend_12_months": [
            {**row, "rate": percent(row.get("deviation_rate"))}
            for row in analysis.get("trend_12_months", [])
        ],
        "pareto": [
            {
                **row,
                "name": reason_name(row, names),
                "share_percent": percent(row["share"]),
                "cumulative_percent": percent(row["cumulative_share"]),
            }
            for row in analysis.get("pareto", [])
        ],
        "distribution": [
            {**row, "name": _("All departments") if row.get("totals") else row["name"]}
            for row in analysis.get("distribution", [])
        ],
        "churn": {
            "departments": [
                {**row, "rate": percent(row.get("promise_kept_rate"))}
                for row in churn.get("departments", [])
            ],
            "totals": {
                **churn.get("totals", {}),
                "rate": percent((churn.get("totals") or {}).get("promise_kept_rate")),
            },
        },
    }


def report_for_display(data: dict[str, Any]) -> dict[str, Any]:
    """A stored report (JSON) with percentages, dates and node links ready for a template."""

    def figures(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "rate": percent(row.get("deviation_rate"))}

    def moment(value: Any) -> datetime | None:
        return parse_datetime(value) if isinstance(value, str) else value

    return {
        **figures(data),
        "threshold_percent": percent(data.get("threshold")),
        "start": moment(data.get("start")),
        "end": moment(data.get("end")),
        "as_of": moment(data.get("as_of")),
        "by_department": [figures(row) for row in data.get("by_department", [])],
        "by_project": [figures(row) for row in data.get("by_project", [])],
        "worst_slips": [
            {**row, "planned_due": moment(row.get("planned_due")), "url": links.node_url(row["id"])}
            for row in data.get("worst_slips", [])
        ],
        "weekly_trend": [figures(row) for row in data.get("weekly_trend", [])],
    }
