"""Generated posters: MovieLens has no images and the site may run offline.

Each poster is a deterministic SVG (same movie, same bytes) showing the title
and year on a gradient whose colours come from the movie's genres, so that
posters of one genre look alike and a grid is easy to scan.
"""
import hashlib
import textwrap
from xml.sax.saxutils import escape

# Hue per MovieLens genre (all four datasets' genre names).
GENRE_HUES = {
    "Action": 5, "Adventure": 28, "Animation": 50, "Children's": 75, "Children": 75,
    "Comedy": 45, "Crime": 350, "Documentary": 190, "Drama": 215, "Fantasy": 275,
    "Film-Noir": 230, "Horror": 0, "IMAX": 200, "Musical": 320, "Mystery": 260,
    "Romance": 335, "Sci-Fi": 180, "Thriller": 300, "War": 95, "Western": 35,
}
WIDTH, HEIGHT = 200, 300
LINE_CHARS = 16
MAX_LINES = 5


def _hues(movie_title, genre_names):
    hues = [GENRE_HUES[name] for name in genre_names if name in GENRE_HUES]
    if not hues:
        digest = hashlib.sha256(movie_title.encode("utf-8")).digest()
        hues = [digest[0] * 360 // 256]
    first = hues[0]
    second = hues[1] if len(hues) > 1 else (first + 40) % 360
    return first, second


def _title_lines(title):
    lines = textwrap.wrap(title, LINE_CHARS, break_long_words=True) or [title]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: LINE_CHARS - 1] + "…"
    return lines


def poster_svg(movie):
    genre_names = [genre.name for genre in movie.genres.all()]
    return render_poster(movie.title, movie.year, genre_names)


def render_poster(title, year, genre_names):
    """SVG text for one poster. Every piece of text is XML-escaped."""
    first, second = _hues(title, genre_names)
    lines = _title_lines(title)
    line_height = 24
    top = HEIGHT / 2 - (len(lines) - 1) * line_height / 2 - 10
    title_svg = "".join(
        f'<text x="100" y="{top + i * line_height:.0f}" class="t">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    year_svg = f'<text x="100" y="{top + len(lines) * line_height + 6:.0f}" class="y">{year}</text>' if year else ""
    genre_svg = escape(" · ".join(genre_names[:3]))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        "<defs>"
        '<linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({first},62%,38%)"/>'
        f'<stop offset="1" stop-color="hsl({second},55%,16%)"/>'
        "</linearGradient>"
        "<style>text{font-family:'DejaVu Sans',Verdana,sans-serif;fill:#fff;text-anchor:middle}"
        ".t{font-size:17px;font-weight:700}.y{font-size:15px;opacity:.85}.g{font-size:11px;opacity:.8}</style>"
        "</defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f'<rect x="10" y="10" width="{WIDTH - 20}" height="{HEIGHT - 20}" fill="none" '
        'stroke="rgba(255,255,255,.25)" stroke-width="1.5" rx="6"/>'
        f"{title_svg}{year_svg}"
        f'<text x="100" y="{HEIGHT - 24}" class="g">{genre_svg}</text>'
        "</svg>"
    )
