"""The benchmark's plots, written as plain SVG (no plotting library).

Two kinds:
  timeline     the requests of one invocation of each side, one bar per request
               from its start to its end, rows grouped by serial round trip;
  containment  a burst's resources contained so far against the seconds since
               the burst started, one line per side.

The output depends on the data only (no dates, fixed ordering, coordinates
rounded), so a plot changes in the repository only when the figures do.
"""

import math
from xml.sax.saxutils import escape

FONT = 'font-family="Helvetica, Arial, sans-serif"'
COLOURS = {"ours": "#1f6fb4", "ours-standard": "#7fa9d0", "peer": "#c8402a"}
NAMES = {"ours": "guardduty-responder", "ours-standard": "guardduty-responder, SDK standard retries", "peer": "Cloud Custodian"}


def num(value):
    """A coordinate: one decimal, no trailing zero."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_step(span, ticks=6):
    """A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def tick_label(value, step):
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def text(x, y, content, size=11, anchor="start", weight="normal", fill="#222"):
    bold = ' font-weight="bold"' if weight == "bold" else ""
    return f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{bold}>{escape(content)}</text>'


def document(width, height, parts, title):
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{num(height)}" viewBox="0 0 {width} {num(height)}" {FONT}>',
            f"<title>{escape(title)}</title>",
            f'<rect width="{width}" height="{num(height)}" fill="#fff"/>',
            *parts,
            "</svg>",
            "",
        ]
    )


def x_axis(parts, x0, x1, y, span, unit, top=None):
    """Ticks and labels along y from x0 (0) to x1 (span); grid lines up to `top`."""
    step = nice_step(span)
    value = 0.0
    while value <= span * 1.0001:
        x = x0 + (x1 - x0) * value / span
        if top is not None:
            parts.append(f'<line x1="{num(x)}" y1="{num(top)}" x2="{num(x)}" y2="{num(y)}" stroke="#e4e4e4"/>')
        parts.append(f'<line x1="{num(x)}" y1="{num(y)}" x2="{num(x)}" y2="{num(y + 4)}" stroke="#555"/>')
        parts.append(text(x, y + 15, tick_label(value, step), 10, "middle", fill="#444"))
        value += step
    parts.append(f'<line x1="{num(x0)}" y1="{num(y)}" x2="{num(x1)}" y2="{num(y)}" stroke="#555"/>')
    parts.append(text((x0 + x1) / 2, y + 30, unit, 11, "middle", fill="#444"))


def timeline(title, panels, note=""):
    """panels: [(side, heading, [[start_s, end_s, depth, label], ...], (mark_s, mark_label) or None)].

    One panel per side, one shared time axis (seconds since the invocation
    was handed its event); within a panel, rows are grouped by round trip and
    ordered by start. The mark (a dashed line) is the containment moment.
    """
    width, left, right = 960, 340, 940
    row, gap, head = 13, 10, 22
    span = max([end for _, _, requests, _ in panels for _, end, _, _ in requests] + [0.001])
    span = nice_step(span) * math.ceil(span / nice_step(span))
    parts = [text(20, 24, title, 14, weight="bold")]
    if note:
        parts.append(text(20, 42, note, 11, fill="#555"))
    y = 58
    for side, heading, requests, mark in panels:
        colour = COLOURS[side]
        parts.append(text(20, y + 14, heading, 12, weight="bold", fill=colour))
        y += head
        top = y
        ordered = sorted(requests, key=lambda r: (r[2], r[0], r[3]))
        depth = None
        shade = False
        for start, end, d, label in ordered:
            if d != depth:
                depth = d
                shade = not shade
                group = [r for r in ordered if r[2] == d]
                if shade:
                    parts.append(f'<rect x="20" y="{num(y - 1)}" width="{right - 20}" height="{num(len(group) * row + 2)}" fill="#f3f5f8"/>')
                parts.append(text(24, y + row - 3, f"round trip {d}", 10, fill="#666"))
            parts.append(text(left - 8, y + row - 3, label, 10, "end"))
            x0 = left + (right - left) * start / span
            x1 = left + (right - left) * end / span
            parts.append(f'<rect x="{num(x0)}" y="{num(y + 2)}" width="{num(max(x1 - x0, 1.0))}" height="{row - 4}" fill="{colour}"/>')
            y += row
        if mark is not None:
            at, label = mark
            x = left + (right - left) * at / span
            parts.append(f'<line x1="{num(x)}" y1="{num(top - 4)}" x2="{num(x)}" y2="{num(y + 2)}" stroke="#2a8a3a" stroke-width="1.5" stroke-dasharray="4 3"/>')
            parts.append(text(x + 4, top + 6, label, 10, fill="#2a8a3a"))
        y += gap
    x_axis(parts, left, right, y + 4, span, "seconds since the invocation was handed the finding")
    return document(width, y + 44, parts, title)


def containment(title, series, total, note=""):
    """series: [(side, legend, [seconds at which each resource was contained, sorted], end_s)].

    A step line per side from (0, 0) up by one at each containment, held flat
    until `end_s` (when that side's last invocation returned).
    """
    width, left, right, top, bottom = 760, 70, 730, 60, 320
    height = bottom + 56 + 16 * len(series)
    span = max([end or 0 for *_, end in series] + [t for _, _, times, _ in series for t in times] + [0.1])
    step = nice_step(span)
    span = step * math.ceil(span / step)
    parts = [text(20, 24, title, 14, weight="bold")]
    if note:
        parts.append(text(20, 42, note, 11, fill="#555"))
    ystep = nice_step(total, 5) if total else 1
    ymax = ystep * math.ceil(total / ystep) if total else 1
    value = 0
    while value <= ymax:
        y = bottom - (bottom - top) * value / ymax
        parts.append(f'<line x1="{left}" y1="{num(y)}" x2="{right}" y2="{num(y)}" stroke="#e4e4e4"/>')
        parts.append(text(left - 6, y + 4, f"{value:g}", 10, "end", fill="#444"))
        value += ystep
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#555"/>')
    parts.append(f'<text x="18" y="{num((top + bottom) / 2)}" font-size="11" fill="#444" text-anchor="middle" transform="rotate(-90 18 {num((top + bottom) / 2)})">contained so far (of {total})</text>')
    x_axis(parts, left, right, bottom, span, "seconds since the burst started")
    sx = lambda t: left + (right - left) * t / span
    sy = lambda n: bottom - (bottom - top) * n / ymax
    for k, (side, legend, times, end) in enumerate(series):
        colour = COLOURS[side]
        points = [(sx(0), sy(0))]
        for n, t in enumerate(times):
            points.append((sx(t), sy(n)))
            points.append((sx(t), sy(n + 1)))
        points.append((sx(max(end or 0, times[-1] if times else 0)), sy(len(times))))
        path = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        ly = bottom + 56 + 16 * k
        parts.append(f'<line x1="{left}" y1="{ly - 4}" x2="{left + 20}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        parts.append(text(left + 26, ly, legend, 11))
    return document(width, height, parts, title)
