"""What a reader may do with comments: plain functions the views (and tests) call."""

from django.core.exceptions import PermissionDenied

from paper_review.forms import CommentForm


def visible_comments(review):
    """Comments staff have not hidden, newest first, with their authors."""
    return review.comments.filter(is_hidden=False).select_related("author")


def post_comment(review, user, data):
    """(comment, form): the saved comment, or None and the form with its errors."""
    form = CommentForm(data)
    if not form.is_valid():
        return None, form
    comment = form.save(commit=False)
    comment.review = review
    comment.author = user
    comment.save()
    return comment, form


def delete_comment(comment, user):
    if not comment.can_delete(user):
        raise PermissionDenied("Only the author of a comment can delete it.")
    comment.delete()
