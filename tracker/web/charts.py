"""Geometry for the charts the server draws as SVG: the project timeline, the deviation-rate
trend (of weeks, or of months) and the monthly analysis's reason Pareto and lateness
distribution. Templates only place the shapes computed here; no JavaScript is needed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from tracker.milestones.models import Milestone
from tracker.workcal.calendar import WarRoom, WorkingCalendar, base_name

# ---------------------------------------------------------------- timeline


@dataclass
class TimelineRow:
    node: Milestone
    y: float
    due_x: float
    baseline_x: float | None
    done_x: float | None
    slip_days: float | None  # current due vs baseline, positive = later
    late_days: float | None  # completion vs current due, positive = late
    height: int = 26
    forecast_x: float | None = None  # an open node forecast to finish after its due date
    critical: bool = False  # on the project's critical path

    @property
    def forecast_triangle(self) -> str:
        x, y = self.forecast_x or 0, self.y
        return f"{x},{y - 6} {x + 6},{y + 5} {x - 6},{y + 5}"

    @property
    def top(self) -> float:
        return self.y - self.height / 2

    @property
    def text_y(self) -> float:
        return self.y + 4

    @staticmethod
    def _diamond(x: float, y: float, r: float) -> str:
        return f"{x},{y - r} {x + r},{y} {x},{y + r} {x - r},{y}"

    @property
    def due_diamond(self) -> str:
        return self._diamond(self.due_x, self.y, 6)

    @property
    def baseline_diamond(self) -> str:
        return self._diamond(self.baseline_x, self.y, 6) if self.baseline_x is not None else ""

    @property
    def note_x(self) -> float:
        return max(self.due_x, self.done_x or 0) + 10


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class OffBand:
    """A run of non-working days, shaded; `title` names its holidays (the tooltip)."""

    x: float
    width: float
    title: str


@dataclass
class TimelineChart:
    width: int
    height: int
    label_width: int
    plot_left: int
    plot_right: int
    top: int
    row_height: int
    rows: list[TimelineRow] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    today_x: float | None = None
    d_day_x: float | None = None
    edges: list[str] = field(default_factory=list)
    critical_edges: list[str] = field(default_factory=list)  # along the critical path
    off_bands: list[OffBand] = field(default_factory=list)
    start_epoch: float = 0.0  # the time at `plot_left`, for the drag-to-re-plan script
    seconds_per_unit: float = 1.0  # and how much time one unit of x is

    @property
    def plot_bottom(self) -> int:
        return self.height - 8

    @property
    def off_top(self) -> int:
        return self.top - 6

    @property
    def off_height(self) -> int:
        return self.plot_bottom - self.off_top

    @property
    def label_clip(self) -> int:
        """Titles are clipped before the department's (shortened) name at the end of the
        label column."""
        return self.label_width - 72


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


def _ticks(start: datetime, end: datetime, scale) -> list[Tick]:
    """Mondays for spans up to six months, first days of months beyond."""
    first: date = timezone.localtime(start).date()
    last: date = timezone.localtime(end).date()
    zone = timezone.get_current_timezone()
    ticks = []
    if (last - first).days <= 183:
        day = first + timedelta(days=(7 - first.weekday()) % 7)
        while day <= last:
            moment = datetime.combine(day, datetime.min.time(), tzinfo=zone)
            ticks.append(Tick(scale(moment), day.strftime("%m-%d")))
            day += timedelta(days=7)
    else:
        day = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        while day <= last:
            moment = datetime.combine(day, datetime.min.time(), tzinfo=zone)
            ticks.append(Tick(scale(moment), day.strftime("%Y-%m")))
            day = (day + timedelta(days=32)).replace(day=1)
    return ticks


def _off_bands(start: datetime, end: datetime, scale, war_room: WarRoom | None) -> list[OffBand]:
    """Each run of non-working days between `start` and `end` (the war room's days are worked),
    named by its holiday or as a weekend."""
    calendar = WorkingCalendar()
    zone = timezone.get_current_timezone()
    weekend = _("weekend")
    day, last = timezone.localtime(start).date(), timezone.localtime(end).date()
    bands: list[OffBand] = []
    run: list[date] = []
    while day <= last + timedelta(days=1):
        if day <= last and not calendar.is_working_day(day, war_room):
            run.append(day)
        elif run:
            # A break is named by its first named day (“National Day”), as the template
            # preview names it.
            named = next((d.name for d in map(calendar.day, run) if d.name), None)
            left = scale(max(start, datetime.combine(run[0], time.min, tzinfo=zone)))
            right = scale(min(end, datetime.combine(run[-1] + timedelta(days=1), time.min, zone)))
            label = f"{run[0]:%m-%d}" + (f"–{run[-1]:%m-%d}" if len(run) > 1 else "")
            title = f"{label}: {base_name(named) if named else weekend}"
            bands.append(OffBand(left, round(right - left, 1), title))
            run = []
        day += timedelta(days=1)
    return bands


def timeline_chart(
    *,
    nodes: list[Milestone],
    d_day: datetime,
    now: datetime,
    war_room: WarRoom | None = None,
    width: int = 1160,
    label_width: int = 300,
    row_height: int = 26,
    units_per_day: float | None = None,
) -> TimelineChart:
    """One row per node (in the given order) on a shared time axis, with the today line, the
    D-day marker and a curve from each upstream node's due date to its dependent's.

    The whole span fits `width`, unless `units_per_day` zooms in (a week or a month view):
    then the chart is as wide as the span needs, and its frame scrolls."""
    top = 44
    moments = [now, d_day]
    for node in nodes:
        moments += [
            m for m in (node.due_at, node.baseline_due_at, node.completed_at, node.forecast_at) if m
        ]
    start = min(moments) - timedelta(days=2)
    end = max(moments) + timedelta(days=2)
    if units_per_day:
        days = (end - start).total_seconds() / 86400
        width = max(width, round(label_width + 40 + days * units_per_day))
    chart = TimelineChart(
        width=width,
        height=top + row_height * max(len(nodes), 1) + 16,
        label_width=label_width,
        plot_left=label_width + 16,
        plot_right=width - 24,
        top=top,
        row_height=row_height,
    )
    span = (end - start).total_seconds()
    plot = chart.plot_right - chart.plot_left
    chart.start_epoch = start.timestamp()
    chart.seconds_per_unit = span / plot

    def scale(moment: datetime) -> float:
        return round(chart.plot_left + (moment - start).total_seconds() / span * plot, 1)

    chart.ticks = _ticks(start, end, scale)
    chart.off_bands = _off_bands(start, end, scale, war_room)
    chart.today_x = scale(now)
    chart.d_day_x = scale(d_day)
    positions: dict[int, TimelineRow] = {}
    for index, node in enumerate(nodes):
        baseline = node.baseline_due_at
        row = TimelineRow(
            node=node,
            y=top + index * row_height + row_height / 2,
            due_x=scale(node.due_at),
            baseline_x=scale(baseline) if baseline else None,
            done_x=scale(node.completed_at) if node.completed_at else None,
            slip_days=(_days(node.due_at - baseline) or None) if baseline else None,
            late_days=(_days(node.completed_at - node.due_at) or None)
            if node.completed_at
            else None,
            height=row_height,
            forecast_x=scale(node.forecast_at)
            if node.is_open and node.forecast_at and node.forecast_at > node.due_at
            else None,
            critical=node.on_critical_path,
        )
        chart.rows.append(row)
        positions[node.pk] = row
    for row in chart.rows:
        for link in row.node.upstream_links.all():
            upstream = positions.get(link.depends_on_id)
            if upstream is None:
                continue
            x1, y1, x2, y2 = upstream.due_x, upstream.y, row.due_x, row.y
            bend = max(24.0, abs(x2 - x1) / 3)
            path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2 - 7},{y2}"
            if upstream.critical and row.critical:
                chart.critical_edges.append(path)
            else:
                chart.edges.append(path)
    return chart


# ---------------------------------------------------------------- trend


@dataclass
class TrendPoint:
    x: float
    y: float | None
    week: str
    rate: float | None
    due_count: int
    deviated_count: int
    above: bool

    @property
    def triangle(self) -> str:
        x, y = self.x, self.y or 0
        return f"{x},{y - 7} {x + 6},{y + 4} {x - 6},{y + 4}"

    @property
    def band_x(self) -> float:
        return self.x - 14


@dataclass
class TrendChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    threshold: Decimal
    threshold_y: float
    points: list[TrendPoint] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    highlight: str | None = None

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top

    @property
    def label_y(self) -> int:
        return self.bottom + 16

    @property
    def threshold_label_y(self) -> float:
        return self.threshold_y - 6


NICE_MAXIMA = (0.1, 0.2, 0.25, 0.4, 0.5, 0.75, 1.0)


def trend_chart(
    *,
    weeks: list[dict[str, Any]],
    threshold: Decimal,
    highlight: str | None = None,
    width: int = 960,
    height: int = 300,
    label_key: str = "week",
) -> TrendChart:
    """The deviation rate of each week (or, with `label_key="month"`, of each month) as a line,
    broken where a period had no nodes due, with the threshold as a dashed line. Points above
    the threshold are drawn as triangles."""
    chart = TrendChart(
        width=width,
        height=height,
        left=52,
        right=width - 16,
        top=16,
        bottom=height - 40,
        threshold=threshold,
        threshold_y=0,
        highlight=highlight,
    )
    rates = [w["deviation_rate"] for w in weeks if w["deviation_rate"] is not None]
    peak = max([float(threshold) * 1.5, *rates, 0.0])
    y_max = next((nice for nice in NICE_MAXIMA if nice >= peak), 1.0)

    def y_of(rate: float) -> float:
        return round(chart.bottom - rate / y_max * (chart.bottom - chart.top), 1)

    chart.threshold_y = y_of(float(threshold))
    chart.y_ticks = [Tick(y_of(y_max * i / 4), f"{y_max * i / 4 * 100:g}%") for i in range(5)]
    step = (chart.right - chart.left) / max(len(weeks) - 1, 1)
    segment: list[str] = []
    for index, week in enumerate(weeks):
        rate = week["deviation_rate"]
        x = round(chart.left + index * step, 1) if len(weeks) > 1 else chart.left
        y = y_of(rate) if rate is not None else None
        chart.points.append(
            TrendPoint(
                x=x,
                y=y,
                week=week[label_key],
                rate=rate,
                due_count=week["due_count"],
                deviated_count=week["deviated_count"],
                # Exact, like the report's own breach test (the shown rate is rounded).
                above=rate is not None and week["deviated_count"] > threshold * week["due_count"],
            )
        )
        if y is None:
            if len(segment) > 1:
                chart.lines.append(" ".join(segment))
            segment = []
        else:
            segment.append(f"{x},{y}")
    if len(segment) > 1:
        chart.lines.append(" ".join(segment))
    return chart


# ---------------------------------------------------------------- Pareto


@dataclass
class ParetoBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    slip_days: float
    cumulative_share: float
    line_y: float  # where the cumulative share's line passes over this bar

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass
class ParetoChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[ParetoBar] = field(default_factory=list)
    count_ticks: list[Tick] = field(default_factory=list)  # left axis: nodes
    share_ticks: list[Tick] = field(default_factory=list)  # right axis: cumulative share
    line: str = ""

    @property
    def label_y(self) -> int:
        return self.bottom + 16


def pareto_chart(*, rows: list[dict[str, Any]], width: int = 960, height: int = 300) -> ParetoChart:
    """The analysis's reason Pareto: a bar of deviated nodes per reason, most frequent first,
    and the cumulative share as a line against a 0–100% axis on the right."""
    chart = ParetoChart(
        width=width, height=height, left=44, right=width - 52, top=16, bottom=height - 40
    )
    peak = max([row["deviated_count"] for row in rows] or [1])
    step = max(1, -(-peak // 4))  # four gridlines of whole nodes
    top_count = step * 4
    span = chart.bottom - chart.top

    def y_of(fraction: float) -> float:
        return round(chart.bottom - fraction * span, 1)

    chart.count_ticks = [Tick(y_of(i / 4), str(step * i)) for i in range(5)]
    chart.share_ticks = [Tick(y_of(i / 4), f"{25 * i}%") for i in range(5)]
    slot = (chart.right - chart.left) / max(len(rows), 1)
    bar_width = round(min(slot * 0.7, 90), 1)
    points = []
    for index, row in enumerate(rows):
        x = round(chart.left + index * slot + (slot - bar_width) / 2, 1)
        y = y_of(row["deviated_count"] / top_count)
        bar = ParetoBar(
            x=x,
            y=y,
            width=bar_width,
            height=round(chart.bottom - y, 1),
            label=row["name"],
            count=row["deviated_count"],
            slip_days=row["slip_days"],
            cumulative_share=row["cumulative_share"] or 0.0,
            line_y=y_of(row["cumulative_share"] or 0.0),
        )
        chart.bars.append(bar)
        points.append(f"{bar.center},{bar.line_y}")
    chart.line = " ".join(points)
    return chart


# ---------------------------------------------------------------- lateness distribution


@dataclass
class DistributionSegment:
    key: str
    x: float
    width: float
    count: int


@dataclass
class DistributionBar:
    name: str
    y: float
    total: int
    segments: list[DistributionSegment] = field(default_factory=list)
    totals: bool = False

    @property
    def text_y(self) -> float:
        return self.y + 11


@dataclass
class DistributionChart:
    width: int
    height: int
    left: int
    right: int
    bar_height: int
    bars: list[DistributionBar] = field(default_factory=list)


def distribution_chart(
    *, rows: list[dict[str, Any]], keys: tuple[str, ...], width: int = 960, bar_height: int = 16
) -> DistributionChart:
    """One bar per department (the totals row last), its nodes split by lateness bucket in
    `keys` order, each bar as wide as the plot: shares, not counts."""
    row_height = bar_height + 12
    chart = DistributionChart(
        width=width,
        height=max(len(rows), 1) * row_height + 8,
        left=180,
        right=width - 16,
        bar_height=bar_height,
    )
    span = chart.right - chart.left
    for index, row in enumerate(rows):
        total = sum(row[key] for key in keys)
        bar = DistributionBar(
            name=row["name"], y=4 + index * row_height, total=total, totals=row.get("totals", False)
        )
        x = float(chart.left)
        for key in keys:
            if not row[key]:
                continue
            part = round(span * row[key] / total, 1)
            bar.segments.append(
                DistributionSegment(key=key, x=round(x, 1), width=part, count=row[key])
            )
            x += part
        chart.bars.append(bar)
    return chart
