"""The monthly report's charts as PNG images for email (mail clients show no SVG; the web page
draws its own SVG in tracker/web/charts.py). Drawn with matplotlib's object API on the Agg
canvas (no pyplot, so no global figure state shared between threads), small and flat-coloured
so that four of them keep an email well under 100 KB.

Chinese labels need a CJK font: Noto Sans CJK (Debian's fonts-noto-cjk, installed by
`make system-deps`) is registered as a fallback behind DejaVu Sans when it is present.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from PIL import Image

from tracker.notifications.texts import percent

logger = logging.getLogger(__name__)

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
LATIN_FONT = "DejaVu Sans"
WIDTH_PX, HEIGHT_PX, DPI = 560, 230, 80  # drawn at 7 × 2.9 inches
PALETTE_COLOURS = 48  # the PNG is quantised to a palette this size: flat charts need few
INK, MUTED, GRID = "#1f2328", "#6b7280", "#e5e7eb"
RATE, LATE, LINE = "#2563eb", "#dc2626", "#111827"
# Lateness buckets, on time to still open (the keys of the analysis' distribution rows).
BUCKETS = (
    ("on_time", "#16a34a"),
    ("up_to_1", "#facc15"),
    ("from_1_to_3", "#fb923c"),
    ("from_3_to_7", "#f97316"),
    ("over_7", "#dc2626"),
    ("open", "#6b7280"),
)


@dataclass(frozen=True)
class Chart:
    """One chart: `cid` names it in the HTML (`<img src="cid:…">`), `alt` says what it shows."""

    cid: str
    title: str
    alt: str
    png: bytes


@cache
def font_families() -> tuple[str, ...]:
    """The font families charts use: DejaVu Sans, then the CJK font for the glyphs it lacks."""
    if not CJK_FONT.is_file():
        logger.warning("No CJK font at %s: Chinese chart labels will not render.", CJK_FONT)
        return (LATIN_FONT,)
    font_manager.fontManager.addfont(str(CJK_FONT))
    return (LATIN_FONT, font_manager.FontProperties(fname=str(CJK_FONT)).get_name())


def bucket_labels() -> dict[str, str]:
    return {
        "on_time": _("On time"),
        "up_to_1": _("≤ 1 day late"),
        "from_1_to_3": _("1–3 days"),
        "from_3_to_7": _("3–7 days"),
        "over_7": _("> 7 days"),
        "open": _("Still open"),
    }


def _draw(title: str, paint: Callable[[Figure], None]) -> bytes:
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    with _style():
        paint(figure)
        for axes in figure.axes:
            axes.spines[["top", "right"]].set_visible(False)
            axes.tick_params(colors=MUTED, labelsize=8)
        figure.suptitle(title, fontsize=10, color=INK, x=0.01, ha="left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=PALETTE_COLOURS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _style():
    return rc_context({"font.family": list(font_families()), "axes.edgecolor": GRID})


def _rates(rows: Sequence[dict[str, Any]]) -> list[float]:
    return [row["deviation_rate"] or 0.0 for row in rows]


def _rate_bars(labels: list[str], rows: Sequence[dict[str, Any]], threshold: float | None):
    def paint(figure: Figure) -> None:
        axes = figure.subplots()
        positions = range(len(labels))  # labels such as 2026-11 are names, not dates
        axes.bar(positions, _rates(rows), color=RATE, width=0.6)
        axes.set_xticks(positions, labels)
        if threshold is not None:
            axes.axhline(threshold, color=LATE, linewidth=1, linestyle="--")
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.set_ylim(0, max([*_rates(rows), threshold or 0, 0.1]) * 1.15)
        axes.grid(axis="y", color=GRID, linewidth=0.6)
        axes.set_axisbelow(True)
        if len(labels) > 6:
            axes.tick_params(axis="x", labelrotation=45)

    return paint


def _series_alt(name: str, labels: list[str], rows: Sequence[dict[str, Any]]) -> str:
    values = ", ".join(
        f"{label} {percent(row['deviation_rate'])}" for label, row in zip(labels, rows, strict=True)
    )
    return _("%(chart)s: %(values)s.") % {"chart": name, "values": values or _("no data")}


def trend_chart(rows: Sequence[dict[str, Any]], *, threshold: float | None) -> Chart:
    labels = [row["month"] for row in rows]
    title = _("Deviation rate, last 12 months")
    return Chart(
        "trend-12-months",
        title,
        _series_alt(title, labels, rows),
        _draw(title, _rate_bars(labels, rows, threshold)),
    )


def weekly_chart(rows: Sequence[dict[str, Any]], *, threshold: float | None) -> Chart:
    labels = [row["week"] for row in rows]
    title = _("Deviation rate by week of the month")
    return Chart(
        "weekly-trend",
        title,
        _series_alt(title, labels, rows),
        _draw(title, _rate_bars(labels, rows, threshold)),
    )


def pareto_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Deviated nodes by reason, most frequent first, with the cumulative share as a line."""
    title = _("Deviated nodes by reason (Pareto)")
    names = [row["name"] for row in rows]

    def paint(figure: Figure) -> None:
        axes = figure.subplots()
        positions = range(len(names))
        axes.bar(positions, [row["deviated_count"] for row in rows], color=LATE, width=0.6)
        axes.set_xticks(positions, names)
        axes.set_ylabel(_("Nodes"), fontsize=8, color=MUTED)
        axes.yaxis.get_major_locator().set_params(integer=True)
        share = axes.twinx()
        share.plot(positions, [row["cumulative_share"] for row in rows], color=LINE, marker="o")
        share.set_ylim(0, 1.05)
        share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        share.spines[["top"]].set_visible(False)
        if len(names) > 4:
            axes.tick_params(axis="x", labelrotation=30)

    values = ", ".join(
        _("%(reason)s %(count)s (cumulative %(share)s)")
        % {
            "reason": row["name"],
            "count": row["deviated_count"],
            "share": percent(row["cumulative_share"]),
        }
        for row in rows
    )
    alt = _("%(chart)s: %(values)s.") % {"chart": title, "values": values or _("no data")}
    return Chart("reason-pareto", title, alt, _draw(title, paint))


def distribution_chart(rows: Sequence[dict[str, Any]]) -> Chart:
    """Each department's nodes as one stacked bar, on time to still open (no totals row)."""
    title = _("Lateness by department")
    labels = bucket_labels()
    departments = [row for row in rows if not row.get("totals")]

    def paint(figure: Figure) -> None:
        axes = figure.subplots()
        positions = range(len(departments))
        left = [0] * len(departments)
        for key, colour in BUCKETS:
            values = [row[key] for row in departments]
            axes.barh(positions, values, left=left, color=colour, label=labels[key], height=0.6)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(positions, [row["name"] for row in departments])
        axes.invert_yaxis()
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.legend(
            fontsize=7,
            ncols=len(BUCKETS),
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            handlelength=1,
            columnspacing=1,
        )

    values = "; ".join(
        f"{row['name']}: "
        + ", ".join(f"{labels[key]} {row[key]}" for key, _colour in BUCKETS if row[key])
        for row in departments
    )
    alt = _("%(chart)s: %(values)s.") % {"chart": title, "values": values or _("no data")}
    return Chart("lateness-distribution", title, alt, _draw(title, paint))


def monthly_charts(report: dict[str, Any]) -> list[Chart]:
    """The four charts of a monthly report carrying `analysis`, in the active language."""
    analysis = report["analysis"]
    threshold = report.get("threshold")
    threshold = float(threshold) if threshold is not None else None
    return [
        trend_chart(analysis["trend_12_months"], threshold=threshold),
        weekly_chart(report.get("weekly_trend", []), threshold=threshold),
        pareto_chart(analysis["pareto"]),
        distribution_chart(analysis["distribution"]),
    ]
