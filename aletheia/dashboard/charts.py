"""Charts drawn on the server as inline SVG: no JavaScript, no CDN.

A history is a step line: each day's value holds until the next one (a day without a sync
carries the last value forward). Gridlines with their values, dates along the bottom, and a
`<title>` on each step so hovering shows its value and dates.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[tuple[date, float | None]]  # by day, in order; None: no value that day


def nice_ticks(high: float, count: int = 4) -> list[float]:
    """0 and round steps up to at least `high` (1, 2, 2.5, 5 x 10^n)."""
    if high <= 0:
        return [0.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [round(i * step, 6) for i in range(math.ceil(high / step - 1e-9) + 1)]


def _steps(
    values: Sequence[tuple[date, float | None]], start: date, end: date
) -> list[tuple[date, date, float | None]]:
    """Runs of equal value over [start, end]: (first day, day after the last, value)."""
    runs: list[tuple[date, date, float | None]] = []
    for index, (day, value) in enumerate(values):
        until = values[index + 1][0] if index + 1 < len(values) else end + timedelta(days=1)
        first, until = max(day, start), min(until, end + timedelta(days=1))
        if first >= until:
            continue
        if runs and runs[-1][2] == value and runs[-1][1] == first:
            runs[-1] = (runs[-1][0], until, value)
        else:
            runs.append((first, until, value))
    return runs


def step_chart(
    series: Sequence[Series],
    *,
    title: str,
    start: date,
    end: date,
    unit: str = "",
    empty: str = "",
    width: int = 540,
    height: int = 190,
) -> SafeString:
    """A step chart of `series` over [start, end]; `empty` says why there is nothing to draw."""
    label = escape(title)
    known = [v for s in series for _, v in s.values if v is not None]
    head = (
        f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><text x="8" y="14" class="chart-title">{label}</text>'
    )
    if not known:
        text = escape(empty or _("No history for this period."))
        return mark_safe(  # noqa: S308 - escaped text only
            f'{head}<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
            f'class="chart-empty">{text}</text></svg>'
        )
    pad_left, pad_right, pad_top, pad_bottom = 40, 12, 26, 38
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    ticks = nice_ticks(max(known))
    top = ticks[-1] or 1.0
    days = (end - start).days + 1

    def x(day: date) -> float:
        return pad_left + (day - start).days / days * inner_w

    def y(value: float) -> float:
        return pad_top + inner_h - value / top * inner_h

    parts = [head]
    for tick in ticks:
        parts.append(
            f'<line class="chart-grid" x1="{pad_left}" x2="{width - pad_right}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text x="{pad_left - 5}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'class="chart-tick">{tick:g}</text>'
        )
    step_days = max(1, round(days / 5))
    for offset in range(0, days, step_days):
        day = start + timedelta(days=offset)
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - 22}" class="chart-tick" text-anchor="middle">'
            f"{escape(date_format(day, 'd/m'))}</text>"
        )
    for index, one in enumerate(series):
        runs = _steps(one.values, start, end)
        path, previous_end = [], None
        for first, until, value in runs:
            if value is None:
                previous_end = None
                continue
            if previous_end == first:
                path.append(f"V{y(value):.1f}H{x(until):.1f}")
            else:
                path.append(f"M{x(first):.1f},{y(value):.1f}H{x(until):.1f}")
            previous_end = until
        dash = ' stroke-dasharray="5 3"' if index else ""
        parts.append(
            f'<path class="chart-line" fill="none" stroke="{one.colour}" stroke-width="2"{dash} '
            f'd="{"".join(path)}"/>'
        )
        for first, until, value in runs:  # hover targets: one per step
            if value is None:
                continue
            last = until - timedelta(days=1)
            when = escape(date_format(first, "SHORT_DATE_FORMAT"))
            if last != first:
                when += " \u2013 " + escape(date_format(last, "SHORT_DATE_FORMAT"))
            parts.append(
                f'<rect class="chart-hover" x="{x(first):.1f}" y="{y(value) - 6:.1f}" '
                f'width="{max(x(until) - x(first), 2):.1f}" height="12"><title>'
                f"{escape(one.label)}: {value:g}{escape(unit)} ({when})</title></rect>"
            )
        parts.append(
            f'<line x1="{pad_left + index * 150}" x2="{pad_left + index * 150 + 16}" '
            f'y1="{height - 6}" y2="{height - 6}" stroke="{one.colour}" stroke-width="2"{dash}/>'
            f'<text x="{pad_left + index * 150 + 20}" y="{height - 2}" class="chart-tick">'
            f"{escape(one.label)}</text>"
        )
    first_known = min(day for s in series for day, v in s.values if v is not None)
    if first_known > start:  # say where the history begins, not "nothing before"
        note = escape(
            _("history since %(day)s") % {"day": date_format(first_known, "SHORT_DATE_FORMAT")}
        )
        parts.append(
            f'<text x="{pad_left + 4}" y="{pad_top + 12}" class="chart-tick">{note}</text>'
        )
    if max(known) == 0:
        note = escape(_("0 throughout the period"))
        parts.append(
            f'<text x="{width - pad_right}" y="14" text-anchor="end" class="chart-tick">'
            f"{note}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text part is escaped or numeric
