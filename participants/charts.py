"""Per-day bar charts drawn on the server as SVG: no script, no library, nothing from another
origin, so the Content-Security-Policy stays as it is.

One series per chart, named in its title and axis, so that it reads without colour; the page
puts the same numbers in a table beside it (templates/admin/participants/_daily_chart.html).
"""

from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 200
LEFT = 44  # room for the y axis labels
RIGHT = 8
TOP = 12
BOTTOM = 26  # room for the dates


@dataclass(frozen=True)
class DailyPoint:
    day: date
    value: float | None  # None: nothing to measure that day (a share of no forms)
    # The table's cell, e.g. "12" or "75 % (3 of 4)".
    text: str


@dataclass(frozen=True)
class DailyChart:
    title: str
    # What one bar counts, for the axis and each bar's tooltip: "participations", "%".
    unit: str
    # The table's column heading beside the chart.
    column: str
    points: list[DailyPoint]
    # A share: the axis runs from 0 to 100 %.
    percent: bool = False

    @property
    def total(self) -> float:
        return sum(p.value or 0 for p in self.points)

    @property
    def chart_id(self) -> str:
        return "chart-" + "".join(c if c.isalnum() else "-" for c in self.title.lower())

    def svg(self) -> SafeString:
        return bar_chart_svg(self)


def _nice_ceiling(value: float) -> int:
    """The axis maximum: 1, 2, 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _n(number: float) -> str:
    """A coordinate with one decimal (format_html escapes its arguments before formatting)."""
    return f"{number:.1f}"


def _short_day(day: date) -> str:
    return date_format(day, "j M")


def bar_chart_svg(chart: DailyChart) -> SafeString:
    points = chart.points
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top_value = (
        100 if chart.percent else _nice_ceiling(max((p.value or 0 for p in points), default=0))
    )
    slot = plot_width / max(len(points), 1)
    bar_width = max(slot * 0.7, 1.0)
    baseline = TOP + plot_height

    bars = []
    for index, point in enumerate(points):
        x = LEFT + index * slot + (slot - bar_width) / 2
        label = f"{_short_day(point.day)}: {point.text}"
        if point.value is None:
            bars.append((x, baseline - 1, bar_width, 1, "bar bar--none", label))
            continue
        height = plot_height * (point.value / top_value) if top_value else 0
        height = max(height, 1.0) if point.value else 0
        bars.append((x, baseline - height, bar_width, height, "bar", label))

    # Dates under the first bar, the last and about every week between (at most 6 labels).
    step = max(1, round(len(points) / 5))
    ticks = [i for i in range(0, len(points), step)]
    if points and ticks[-1] != len(points) - 1:
        if len(points) - 1 - ticks[-1] < step / 2:
            ticks[-1] = len(points) - 1
        else:
            ticks.append(len(points) - 1)
    top_label = f"{top_value} %" if chart.percent else f"{top_value}"
    return format_html(
        '<svg class="daily-chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-labelledby="{id}-title" preserveAspectRatio="xMidYMid meet">'
        '<title id="{id}-title">{title}</title>'
        '<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}"/>'
        '<line class="axis" x1="{left}" y1="{base}" x2="{right}" y2="{base}"/>'
        '<line class="grid" x1="{left}" y1="{top}" x2="{right}" y2="{top}"/>'
        '<text class="tick" x="{tick_x}" y="{top_text}" text-anchor="end">{top_label}</text>'
        '<text class="tick" x="{tick_x}" y="{base}" text-anchor="end">0</text>'
        "{bars}{dates}</svg>",
        w=WIDTH,
        h=HEIGHT,
        id=chart.chart_id,
        title=f"{chart.title} ({chart.unit}, per day)",
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        base=baseline,
        tick_x=LEFT - 6,
        top_text=TOP + 4,
        top_label=top_label,
        bars=format_html_join(
            "",
            '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            ((cls, _n(x), _n(y), _n(w), _n(h), label) for x, y, w, h, cls, label in bars),
        ),
        dates=format_html_join(
            "",
            '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
            (
                (_n(LEFT + i * slot + slot / 2), HEIGHT - 8, _short_day(points[i].day))
                for i in ticks
            ),
        ),
    )
