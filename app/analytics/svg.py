"""The funnel as a server-rendered SVG bar chart (pure; no JavaScript, every text escaped)."""

from __future__ import annotations

from html import escape

from app.analytics.funnel import FunnelGroup

WIDTH = 820
LABEL_W = 170
BAR_X = LABEL_W + 10
BAR_MAX = 380
ROW_H = 46
TOP = 78
_STEP_LABELS = {
    "STARTED": "Started",
    "AVAILABILITY_VIEWED": "Viewed times",
    "SLOT_SELECTED": "Chose a time",
    "CODE_SENT": "Code sent",
    "VERIFIED": "Verified",
    "PATIENT_SET": "Patient details",
    "BOOKED": "Booked",
}
_BAR = "#2f6fdf"
_BOOKED = "#1f9d55"
_ABANDONED = "#c2410c"
_MUTED = "#5b6472"


def _t(value: object) -> str:
    return escape(str(value), quote=True)


def duration(seconds: float | None) -> str:
    """45s, 3m 20s, 2h 5m, 1d 3h."""
    if seconds is None:
        return "n/a"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600}h"


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.1f}%"


def render(group: FunnelGroup, title: str, subtitle: str) -> str:
    steps = group.steps
    top = max([s.reached for s in steps] + [group.abandoned, 1])
    rows = len(steps) + 1
    height = TOP + rows * ROW_H + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="t d"'
        ' font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">',
        f'<title id="t">{_t(title)}</title>',
        f'<desc id="d">{_t(subtitle)}. {group.attempts} attempts;'
        f" {steps[-1].reached} booked; {group.abandoned} abandoned.</desc>",
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="16" y="30" font-size="20" font-weight="600" fill="#111827">{_t(title)}</text>',
        f'<text x="16" y="52" font-size="13" fill="{_MUTED}">{_t(subtitle)}</text>',
        f'<text x="{BAR_X}" y="{TOP - 8}" font-size="11" fill="{_MUTED}">attempts (share of'
        " started)</text>",
        f'<text x="{BAR_X + BAR_MAX + 120}" y="{TOP - 8}" font-size="11" fill="{_MUTED}">'
        "from previous step · median time</text>",
    ]
    for i, s in enumerate(steps):
        y = TOP + i * ROW_H
        w = round(BAR_MAX * s.reached / top, 1)
        color = _BOOKED if s.step == "BOOKED" else _BAR
        label = _STEP_LABELS.get(s.step, s.step)
        out.append(
            f'<text x="{LABEL_W}" y="{y + 22}" font-size="14" text-anchor="end"'
            f' fill="#111827">{_t(label)}</text>'
        )
        out.append(
            f'<rect x="{BAR_X}" y="{y + 6}" width="{BAR_MAX}" height="24" rx="3" fill="#eef2f7"/>'
        )
        if w > 0:
            out.append(
                f'<rect x="{BAR_X}" y="{y + 6}" width="{w}" height="24" rx="3" fill="{color}">'
                f"<title>{_t(label)}: {s.reached}</title></rect>"
            )
        out.append(
            f'<text x="{BAR_X + BAR_MAX + 8}" y="{y + 23}" font-size="13" fill="#111827">'
            f"{s.reached:,} ({_t(_pct(s.conversion_from_start))})</text>"
        )
        if i:
            median = s.seconds_from_previous.median if s.seconds_from_previous else None
            out.append(
                f'<text x="{BAR_X + BAR_MAX + 120}" y="{y + 23}" font-size="13" fill="{_MUTED}">'
                f"{_t(_pct(s.conversion_from_previous))} · {_t(duration(median))}</text>"
            )
    y = TOP + len(steps) * ROW_H
    w = round(BAR_MAX * group.abandoned / top, 1)
    share = group.abandoned / steps[0].reached if steps[0].reached else None
    out.append(
        f'<text x="{LABEL_W}" y="{y + 22}" font-size="14" text-anchor="end"'
        f' fill="{_ABANDONED}">Abandoned</text>'
    )
    if w > 0:
        out.append(
            f'<rect x="{BAR_X}" y="{y + 6}" width="{w}" height="24" rx="3" fill="{_ABANDONED}"/>'
        )
    out.append(
        f'<text x="{BAR_X + BAR_MAX + 8}" y="{y + 23}" font-size="13" fill="#111827">'
        f"{group.abandoned:,} ({_t(_pct(share))})</text>"
    )
    booked = steps[0].seconds_to_booking
    footer = f"Median time from start to booking: {duration(booked.median if booked else None)}"
    out.append(f'<text x="16" y="{height - 14}" font-size="12" fill="{_MUTED}">{_t(footer)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
