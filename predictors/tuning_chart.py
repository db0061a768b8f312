"""A version's Optuna search for the admin: the trials as table rows and as an
inline SVG plot (validation NDCG@10 per trial, and the best so far), drawn on
the server so that the page needs no script.

The trials are what predictors.tuning stores under hyperparameters["tuning"].
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 560, 220
MARGIN = {"left": 56, "right": 14, "top": 26, "bottom": 40}
TRIAL_COLOUR, BEST_COLOUR = "#2563eb", "#d97706"


def _number(value):
    return f"{value:.4g}"


def trial_rows(tuning):
    """[{number, params, value, kept_epoch, duration, state, best}] from a stored
    tuning record (None or malformed entries are left out); ``best`` marks the
    trial whose parameters were kept. Trials stored before the rename carry
    the epoch as ``best_epoch``."""
    trials = [trial for trial in (tuning or {}).get("trials", []) if isinstance(trial, dict)]
    values = [trial.get("value") for trial in trials if isinstance(trial.get("value"), (int, float))]
    best_value = max(values) if values else None
    rows, marked = [], False
    for trial in trials:
        value = trial.get("value") if isinstance(trial.get("value"), (int, float)) else None
        is_best = not marked and value is not None and value == best_value
        marked = marked or is_best
        params = trial.get("params") if isinstance(trial.get("params"), dict) else {}
        rows.append(
            {
                "number": trial.get("number"),
                "params": ", ".join(f"{name}={_param(value)}" for name, value in sorted(params.items())),
                "value": value,
                "kept_epoch": trial.get("kept_epoch", trial.get("best_epoch")),
                "duration": trial.get("duration"),
                "state": trial.get("state", ""),
                "best": is_best,
            }
        )
    return rows


def _param(value):
    return _number(value) if isinstance(value, float) else str(value)


def tuning_svg(tuning):
    """Safe SVG markup of the search ('' when no trial has a value): one dot
    per trial at its validation NDCG@10, a line for the best value so far."""
    points = [(index, row["value"]) for index, row in enumerate(trial_rows(tuning)) if row["value"] is not None]
    if not points:
        return ""
    inner_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    inner_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    left, top = MARGIN["left"], MARGIN["top"]
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or abs(high) or 1.0
    last = max(points[-1][0], 1)

    def x(index):
        return left + index / last * inner_w

    def y(value):
        return top + (high - value) / span * inner_h

    best_so_far, running = [], None
    for index, value in points:
        running = value if running is None else max(running, value)
        best_so_far.append(f"{x(index):.1f},{y(running):.1f}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tuning-search" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Validation NDCG@10 of each tuning trial" '
        'font-family="sans-serif" font-size="11" fill="#334155">',
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle">Validation NDCG@10 per trial</text>',
        f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#cbd5e1"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_number(high)}</text>',
        f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">{_number(low)}</text>',
        f'<text x="{left}" y="{top + inner_h + 14}" text-anchor="middle">0</text>',
        f'<text x="{left + inner_w}" y="{top + inner_h + 14}" text-anchor="middle">{last}</text>',
        f'<text x="{left + inner_w / 2}" y="{top + inner_h + 28}" text-anchor="middle">trial</text>',
        f'<polyline points="{" ".join(best_so_far)}" fill="none" stroke="{BEST_COLOUR}" stroke-width="2"/>',
    ]
    for index, value in points:
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="3" fill="{TRIAL_COLOUR}">'
            f"<title>trial {escape(index)}: {_number(value)}</title></circle>"
        )
    legend_y = HEIGHT - 6
    parts += [
        f'<circle cx="{left + 5}" cy="{legend_y - 4}" r="3" fill="{TRIAL_COLOUR}"/>',
        f'<text x="{left + 12}" y="{legend_y}">trial</text>',
        f'<rect x="{left + 50}" y="{legend_y - 5}" width="14" height="2" fill="{BEST_COLOUR}"/>',
        f'<text x="{left + 68}" y="{legend_y}">best so far</text>',
        "</svg>",
    ]
    return mark_safe("".join(parts))
