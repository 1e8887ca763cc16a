"""Charts drawn on the server as inline SVG: no JavaScript, no CDN."""

from collections.abc import Sequence
from datetime import datetime
from html import escape

from django.utils.safestring import SafeString, mark_safe


def line_chart(
    points: Sequence[tuple[datetime, float | None]],
    *,
    title: str,
    unit: str = "",
    width: int = 560,
    height: int = 160,
    colour: str = "#0b6e99",
) -> SafeString:
    """A step-free polyline of `points` (None values break the line), with min/max labels."""
    pad_left, pad_right, pad_top, pad_bottom = 44, 10, 20, 22
    values = [v for _, v in points if v is not None]
    label = escape(title)
    if len(points) < 2 or not values:
        return mark_safe(  # noqa: S308 - built from escaped text only
            f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}">'
            f'<text x="8" y="{height // 2}" class="chart-empty">{label}: -</text></svg>'
        )
    start, end = points[0][0].timestamp(), points[-1][0].timestamp()
    low, high = min(0.0, min(values)), max(values) or 1.0
    span_x, span_y = (end - start) or 1.0, (high - low) or 1.0
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom

    def x(moment: datetime) -> float:
        return pad_left + (moment.timestamp() - start) / span_x * inner_w

    def y(value: float) -> float:
        return pad_top + inner_h - (value - low) / span_y * inner_h

    segments: list[list[str]] = []
    current: list[str] = []
    for moment, value in points:
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x(moment):.1f},{y(value):.1f}")
    if current:
        segments.append(current)
    lines = "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(s)}"/>'
        for s in segments
    )
    dots = "".join(
        f'<circle cx="{x(m):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"><title>'
        f"{m:%d/%m %H:%M}: {v:g}{escape(unit)}</title></circle>"
        for m, v in points
        if v is not None
    )
    axis = (
        f'<line x1="{pad_left}" y1="{pad_top + inner_h}" x2="{width - pad_right}" '
        f'y2="{pad_top + inner_h}" stroke="#dfe4ea"/>'
        f'<text x="{pad_left - 6}" y="{y(high) + 4:.1f}" text-anchor="end" class="chart-tick">{high:g}</text>'
        f'<text x="{pad_left - 6}" y="{y(low) + 4:.1f}" text-anchor="end" class="chart-tick">{low:g}</text>'
        f'<text x="{pad_left}" y="{height - 6}" class="chart-tick">{points[0][0]:%d/%m}</text>'
        f'<text x="{width - pad_right}" y="{height - 6}" text-anchor="end" class="chart-tick">'
        f"{points[-1][0]:%d/%m}</text>"
    )
    return mark_safe(  # noqa: S308 - every text part is escaped or numeric
        f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><text x="{pad_left}" y="13" class="chart-title">{label}</text>'
        f"{axis}{lines}{dots}</svg>"
    )
