"""Links from other parts of the site (the model pages) to the paper reviews."""

from paper_review.models import Review


def review_for_model(model_name):
    """The newest review of a paper that the given site model implements, or None."""
    # A handful of reviews: matching the comma list in Python is simpler than in SQL.
    for review in Review.objects.select_related("paper"):
        if model_name in review.paper.model_names:
            return review
    return None


def review_url_for_model(model_name):
    """URL of the review behind a model page (e.g. "neumf" -> the NCF review), or None."""
    review = review_for_model(model_name)
    return review.get_absolute_url() if review else None
