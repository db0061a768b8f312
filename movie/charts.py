"""The detail page's rating distribution, as bars the template draws."""

HALF_STARS = [(i + 1) / 2 for i in range(10)]


def rating_bars(histogram):
    """[{stars, count, percent}] per half star, or per whole star when the movie
    has no half-star ratings (ml-100k and ml-1m have none); [] without ratings."""
    if not histogram or not any(histogram):
        return []
    buckets = list(zip(HALF_STARS, histogram, strict=True))
    if not any(count for stars, count in buckets if stars % 1):
        buckets = [(stars, count) for stars, count in buckets if not stars % 1]
    total = sum(count for _, count in buckets)
    tallest = max(count for _, count in buckets)
    return [
        {
            "stars": f"{stars:g}",
            "count": count,
            "share": round(100 * count / total),
            "height": round(100 * count / tallest),
        }
        for stars, count in buckets
    ]
