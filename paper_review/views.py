from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from paper_review import comments
from paper_review.forms import CommentForm
from paper_review.live_numbers import PROTOCOLS, live_rows
from paper_review.models import Review
from paper_review.rendering import render_markdown, split_at_live_numbers
from sitewide.errors import error_response, get_or_404


def review_or_404(reviews, slug):
    return get_or_404(reviews, f"There is no paper review called {slug!r}.", slug=slug)


@require_safe
def index(request):
    reviews = Review.objects.select_related("paper").annotate(
        comment_count=Count("comments", filter=Q(comments__is_hidden=False))
    )
    return render(request, "paper_review/index.html", {"reviews": reviews})


def _review_page(request, review, form, status=200):
    body_before, body_after = split_at_live_numbers(render_markdown(review.body))
    context = {
        "review": review,
        "paper": review.paper,
        "body_before": body_before,
        "body_after": body_after,
        "live_rows": live_rows(review.paper.model_names),
        "protocols": PROTOCOLS,
        "comments": comments.visible_comments(review),
        "form": form,
    }
    return render(request, "paper_review/detail.html", context, status=status)


@require_safe
def detail(request, slug):
    review = review_or_404(Review.objects.select_related("paper"), slug)
    return _review_page(request, review, CommentForm())


@require_POST
def post_comment(request, slug):
    review = review_or_404(Review.objects.select_related("paper"), slug)
    if not request.user.is_authenticated:
        # Back to the review after logging in: this URL itself only accepts POST.
        return redirect_to_login(review.get_absolute_url())
    comment, form = comments.post_comment(review, request.user, request.POST)
    if comment is None:
        return _review_page(request, review, form, status=400)
    messages.success(request, "Your comment was posted.")
    return redirect(f"{review.get_absolute_url()}#comment-{comment.pk}")


@require_http_methods(["GET", "HEAD", "POST"])
def delete_comment(request, slug, pk):
    """GET asks for confirmation, POST deletes; only the comment's author may do either."""
    review = review_or_404(Review.objects, slug)
    comment = get_or_404(
        review.comments.select_related("author"), "There is no such comment here; it may have been deleted.", pk=pk
    )
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not comment.can_delete(request.user):
        return error_response(request, 403, "Not your comment", "Only the author of a comment can delete it.")
    if request.method == "POST":
        comments.delete_comment(comment, request.user)
        messages.success(request, "Your comment was deleted.")
        return redirect(f"{review.get_absolute_url()}#comments")
    return render(request, "paper_review/comment_confirm_delete.html", {"review": review, "comment": comment})
