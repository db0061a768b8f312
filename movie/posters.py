"""Generated posters: MovieLens has no images and the site may run offline.

Each poster is a deterministic SVG (same movie, same bytes). Its colours come
from the movie's genres, so a grid of one genre still reads as a family, while
the composition (backdrop pattern, its angle and the genre's emblem) comes from
a hash of the title and year, so neighbouring posters look different. The card
under a poster already prints the title, so the poster itself shows the title's
monogram and the year; the full title is its accessible name.
"""

import hashlib
from xml.sax.saxutils import escape

# Hue per MovieLens genre (all four datasets' genre names).
GENRE_HUES = {
    "Action": 5, "Adventure": 28, "Animation": 50, "Children's": 75, "Children": 75,
    "Comedy": 45, "Crime": 350, "Documentary": 190, "Drama": 215, "Fantasy": 275,
    "Film-Noir": 230, "Horror": 0, "IMAX": 200, "Musical": 320, "Mystery": 260,
    "Romance": 335, "Sci-Fi": 180, "Thriller": 300, "War": 95, "Western": 35,
}  # fmt: skip
WIDTH, HEIGHT = 200, 300
# Words a monogram skips, so "The Godfather" is "G", not "TG".
SMALL_WORDS = {"a", "an", "the", "of", "and", "la", "le", "les", "el", "il", "der", "die", "das"}

# One emblem per genre, drawn in a 100x100 box centred on the poster.
EMBLEMS = {
    "Sci-Fi": '<circle cx="50" cy="50" r="26"/><ellipse cx="50" cy="50" rx="48" ry="12" fill="none" stroke-width="5"/>',
    "Romance": '<path d="M50 88 L14 52 A20 20 0 0 1 50 24 A20 20 0 0 1 86 52 Z"/>',
    "Horror": '<path d="M62 10 A40 40 0 1 0 62 90 A48 48 0 0 1 62 10 Z"/>',
    "Action": '<path d="M58 6 L22 56 H46 L38 94 L78 40 H54 Z"/>',
    "Comedy": '<circle cx="50" cy="50" r="40" fill="none" stroke-width="6"/>'
    '<path d="M28 56 Q50 80 72 56" fill="none" stroke-width="6"/><circle cx="36" cy="38" r="5"/>'
    '<circle cx="64" cy="38" r="5"/>',
    "Animation": '<path d="M50 6 L62 38 L96 38 L68 58 L79 92 L50 71 L21 92 L32 58 L4 38 L38 38 Z"/>',
    "Drama": '<path d="M16 18 H84 V50 A34 34 0 0 1 16 50 Z"/>',
    "Documentary": '<circle cx="50" cy="50" r="40" fill="none" stroke-width="6"/><circle cx="50" cy="50" r="16"/>',
    "War": '<path d="M10 40 L50 16 L90 40 V56 L50 32 L10 56 Z M10 68 L50 44 L90 68 V84 L50 60 L10 84 Z"/>',
    "Crime": '<circle cx="50" cy="36" r="18"/><path d="M40 48 H60 L68 92 H32 Z"/>',
    "Thriller": '<path d="M4 50 Q50 6 96 50 Q50 94 4 50 Z" fill="none" stroke-width="6"/>'
    '<circle cx="50" cy="50" r="16"/>',
    "Musical": '<path d="M36 80 V20 L80 10 V70" fill="none" stroke-width="7"/><circle cx="28" cy="80" r="12"/>'
    '<circle cx="72" cy="70" r="12"/>',
    "Mystery": '<path d="M30 36 A20 20 0 1 1 58 54 Q50 60 50 70" fill="none" stroke-width="9"/>'
    '<circle cx="50" cy="88" r="6"/>',
    "Children's": '<ellipse cx="50" cy="40" rx="26" ry="32"/>'
    '<path d="M50 72 Q44 84 52 96" fill="none" stroke-width="3"/>',
    "Adventure": '<path d="M2 90 L36 30 L52 56 L66 40 L98 90 Z"/>',
    "Fantasy": '<path d="M50 4 L58 42 L96 50 L58 58 L50 96 L42 58 L4 50 L42 42 Z"/><circle cx="84" cy="16" r="5"/>',
    "Film-Noir": '<path d="M10 20 H90 V28 H10 Z M10 40 H90 V48 H10 Z M10 60 H90 V68 H10 Z M10 80 H90 V88 H10 Z"/>',
    "Western": '<circle cx="50" cy="50" r="20"/><path d="M50 4 V20 M50 80 V96 M4 50 H20 M80 50 H96 M18 18 L29 29 '
    'M71 71 L82 82 M18 82 L29 71 M71 29 L82 18" stroke-width="6"/>',
    "IMAX": '<rect x="6" y="24" width="88" height="52" rx="6" fill="none" stroke-width="6"/>',
}
EMBLEMS["Children"] = EMBLEMS["Children's"]
# Movies without a known genre get a plain ring.
DEFAULT_EMBLEM = '<circle cx="50" cy="50" r="36" fill="none" stroke-width="8"/>'


def _backdrop(kind, angle):
    """A faint pattern behind the emblem; ``kind`` and ``angle`` vary per movie."""
    style = 'stroke="rgba(255,255,255,.12)" fill="none"'
    if kind == 0:  # rays
        shapes = "".join(
            f'<path d="M100 150 L{100 + 400 * (i - 6) / 6:.0f} -250" stroke-width="9"/>' for i in range(13)
        )
    elif kind == 1:  # concentric rings
        shapes = "".join(f'<circle cx="100" cy="150" r="{r}" stroke-width="6"/>' for r in range(24, 260, 22))
    elif kind == 2:  # stripes
        shapes = "".join(f'<path d="M-200 {y} H400" stroke-width="8"/>' for y in range(-200, 500, 24))
    else:  # dots
        shapes = "".join(
            f'<circle cx="{x}" cy="{y}" r="3" fill="rgba(255,255,255,.16)" stroke="none"/>'
            for x in range(-100, 320, 20)
            for y in range(-100, 420, 20)
        )
    return f'<g {style} transform="rotate({angle} 100 150)">{shapes}</g>'


def _lead_genres(seed, genre_names):
    """The movie's known genres, starting from one the hash picks, so films
    sharing a genre list (a trilogy, say) still differ in colour and emblem."""
    known = [name for name in genre_names if name in GENRE_HUES]
    if not known:
        return []
    start = seed[0] % len(known)
    return known[start:] + known[:start]


def _hues(seed, genres):
    if not genres:
        first = seed[0] * 360 // 256
        return first, (first + 40) % 360
    first = GENRE_HUES[genres[0]]
    second = GENRE_HUES[genres[1]] if len(genres) > 1 else (first + 40) % 360
    return first, second


def monogram(title):
    words = [w for w in title.replace("-", " ").replace(":", " ").split() if w[:1].isalnum()]
    significant = [w for w in words if w.casefold().rstrip(",") not in SMALL_WORDS] or words
    return "".join(word[0].upper() for word in significant[:2]) or "?"


def poster_svg(movie):
    genre_names = [genre.name for genre in movie.genres.all()]
    return render_poster(movie.title, movie.year, genre_names)


def render_poster(title, year, genre_names):
    """SVG text for one poster. Every piece of text is XML-escaped."""
    seed = hashlib.sha256(f"{title}|{year}".encode()).digest()
    genres = _lead_genres(seed, genre_names)
    first, second = _hues(seed, genres)
    emblem = EMBLEMS[genres[0]] if genres else DEFAULT_EMBLEM
    backdrop = _backdrop(seed[1] % 4, seed[2] * 180 // 256)
    # The emblem sits high or low, and a little left or right, by the hash.
    emblem_x = 80 + (seed[3] % 41)
    emblem_y = 26 + (seed[4] % 3) * 20
    scale = 0.8 + (seed[5] % 4) / 10
    # Unique per poster, so posters inlined in one page keep their own gradients.
    gradient = "g" + seed.hex()[:8]
    label = escape(f"{title} ({year})" if year else title, {'"': "&quot;"})
    year_svg = f'<text x="100" y="{HEIGHT - 22}" class="y">{year}</text>' if year else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
        "<defs>"
        f'<linearGradient id="{gradient}" x1="0" y1="0" x2="{seed[6] % 2}" y2="1">'
        f'<stop offset="0" stop-color="hsl({first},62%,40%)"/>'
        f'<stop offset="1" stop-color="hsl({second},55%,14%)"/>'
        "</linearGradient>"
        "<style>text{font-family:'DejaVu Sans',Verdana,sans-serif;fill:#fff;text-anchor:middle}"
        ".m{font-size:64px;font-weight:700;letter-spacing:2px}.y{font-size:18px;letter-spacing:6px;opacity:.85}</style>"
        "</defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#{gradient})"/>'
        f"{backdrop}"
        f'<g fill="rgba(255,255,255,.82)" stroke="rgba(255,255,255,.82)" '
        f'transform="translate({emblem_x} {emblem_y}) scale({scale:.1f}) translate(-50 0)">{emblem}</g>'
        f'<text x="100" y="{HEIGHT - 50}" class="m">{escape(monogram(title))}</text>'
        f"{year_svg}"
        f'<rect x="8" y="8" width="{WIDTH - 16}" height="{HEIGHT - 16}" fill="none" '
        'stroke="rgba(255,255,255,.3)" stroke-width="1.5" rx="6"/>'
        "</svg>"
    )
