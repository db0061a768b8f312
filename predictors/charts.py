"""Per-epoch training curves drawn as inline SVG on the server (no script, no CDN).

Two panels side by side, training loss and validation NDCG@10, against the
epochs in the order they ran. NeuMF's pre-training stages (neumf/gmf,
neumf/mlp) continue the same axis in their own colours.
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

COLOURS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed"]
PANEL_WIDTH, PANEL_HEIGHT = 360, 200
MARGIN = {"left": 52, "right": 12, "top": 26, "bottom": 34}
PANELS = [("loss", "Training loss"), ("val_ndcg@10", "Validation NDCG@10")]


def _number(value):
    return f"{value:.4g}"


def _panel(epochs, key, title, stages, x_offset):
    points = [(index, entry[key]) for index, entry in enumerate(epochs, 1) if isinstance(entry.get(key), (int, float))]
    inner_w = PANEL_WIDTH - MARGIN["left"] - MARGIN["right"]
    inner_h = PANEL_HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    left, top = x_offset + MARGIN["left"], MARGIN["top"]
    parts = [
        f'<text x="{x_offset + PANEL_WIDTH / 2}" y="16" text-anchor="middle" class="chart-title">'
        f"{escape(title)}</text>",
        f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#cbd5e1"/>',
    ]
    if not points:
        parts.append(f'<text x="{left + inner_w / 2}" y="{top + inner_h / 2}" text-anchor="middle">not recorded</text>')
        return parts
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or abs(high) or 1.0
    last_index = max(len(epochs), 2)

    def x(index):
        return left + (index - 1) / (last_index - 1) * inner_w

    def y(value):
        return top + (high - value) / span * inner_h

    parts += [
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_number(high)}</text>',
        f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">{_number(low)}</text>',
        f'<text x="{left}" y="{top + inner_h + 14}" text-anchor="middle">1</text>',
        f'<text x="{left + inner_w}" y="{top + inner_h + 14}" text-anchor="middle">{len(epochs)}</text>',
        f'<text x="{left + inner_w / 2}" y="{top + inner_h + 28}" text-anchor="middle">epoch</text>',
    ]
    for stage, colour in stages.items():
        stage_points = [(i, v) for i, v in points if epochs[i - 1].get("stage", "") == stage]
        if not stage_points:
            continue
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in stage_points)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in stage_points:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(stage)} epoch {escape(epochs[i - 1].get('epoch', i))}: {_number(v)}</title></circle>"
            )
    return parts


def training_curves_svg(epochs):
    """The per-epoch log of a TrainingRun -> safe SVG markup ('' when empty)."""
    epochs = [entry for entry in epochs or [] if isinstance(entry, dict)]
    if not epochs:
        return ""
    stages = {}
    for entry in epochs:
        stages.setdefault(str(entry.get("stage", "")), COLOURS[len(stages) % len(COLOURS)])
    width, height = PANEL_WIDTH * len(PANELS), PANEL_HEIGHT + 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="training-curves" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Training loss and validation NDCG@10 per epoch" '
        'font-family="sans-serif" font-size="11" fill="#334155">'
    ]
    for number, (key, title) in enumerate(PANELS):
        parts += _panel(epochs, key, title, stages, number * PANEL_WIDTH)
    legend_x = MARGIN["left"]
    for stage, colour in stages.items():
        parts.append(f'<rect x="{legend_x}" y="{height - 12}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 3}">{escape(stage or "training")}</text>')
        legend_x += 24 + 7 * len(stage or "training")
    parts.append("</svg>")
    return mark_safe("".join(parts))
