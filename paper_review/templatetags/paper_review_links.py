"""{% paper_review_url model_name as url %}: the review behind a model page, for other apps' pages."""

from django import template

from paper_review.links import review_url_for_model

register = template.Library()


@register.simple_tag
def paper_review_url(model_name):
    """The URL of the review of the paper that ``model_name`` implements, or None."""
    return review_url_for_model(model_name)
