"""The preference and its 95% interval over time, as inline SVG drawn on
the server (the CSP allows no script): a shaded band for the interval, a
line for the preference, and the zero line it must clear."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 34


def preference_svg(series):
    """``series``: [(time, preference, low, high)] oldest first -> SVG markup (empty without points)."""
    if not series:
        return ""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    last = max(len(series) - 1, 1)

    def x(index):
        return LEFT + index / last * inner_w

    def y(value):
        return TOP + (1 - value) / 2 * inner_h  # +1 at the top, -1 at the bottom

    upper = [f"{x(i):.1f},{y(high):.1f}" for i, (_, _, _, high) in enumerate(series)]
    lower = [f"{x(i):.1f},{y(low):.1f}" for i, (_, _, low, _) in reversed(list(enumerate(series)))]
    line = " ".join(f"{x(i):.1f},{y(point):.1f}" for i, (_, point, _, _) in enumerate(series))
    first, final = series[0][0], series[-1][0]
    moment_format = "%Y-%m-%d %H:%M" if (final - first).total_seconds() >= 7200 else "%H:%M:%S"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="preference-chart-title" class="preference-chart">',
        '<title id="preference-chart-title">Preference for A over B with its 95% interval, over time</title>',
        f'<rect x="{LEFT}" y="{TOP}" width="{inner_w}" height="{inner_h}" fill="#fff" stroke="#cbd5e1"/>',
        f'<polygon points="{" ".join(upper + lower)}" fill="#bfdbfe" stroke="none"/>',
        f'<line x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#64748b" '
        'stroke-dasharray="4 3"/>',
        f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>',
    ]
    for i, (moment, point, low, high) in enumerate(series):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(point):.1f}" r="2.5" fill="#1d4ed8"><title>'
            f"{escape(moment.strftime('%Y-%m-%d %H:%M'))}: {point:+.2f} [{low:+.2f}, {high:+.2f}]</title></circle>"
        )
    for value, label in ((1, "+1 A"), (0, "0"), (-1, "-1 B")):
        parts.append(f'<text x="{LEFT - 4}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    parts += [
        f'<text x="{LEFT}" y="{HEIGHT - 14}" font-size="11">{escape(first.strftime(moment_format))}</text>',
        f'<text x="{LEFT + inner_w}" y="{HEIGHT - 14}" text-anchor="end" font-size="11">'
        f"{escape(final.strftime(moment_format))}</text>",
        "</svg>",
    ]
    return mark_safe("".join(parts))  # every interpolated text is escaped or a number
