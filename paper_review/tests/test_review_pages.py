"""Review pages, comments (create, delete, permissions, validation, escaping),
signing up to comment, and moderation in the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from paper_review.models import COMMENT_MAX_LENGTH, Comment, Review
from tests.accounts import PASSWORD

NCF = "/paper_review/neural-collaborative-filtering/"
NGCF = "/paper_review/neural-graph-collaborative-filtering/"
NCF_COMMENTS = NCF + "comments/"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


@pytest.fixture
def ncf_review():
    return Review.objects.get(slug="neural-collaborative-filtering")


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", password=PASSWORD)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


# --- List and review pages ------------------------------------------------------------


def test_list_page_shows_both_reviews(client):
    response = client.get("/paper_review/")
    assert response.status_code == 200
    page = response.content.decode()
    assert NCF in page and NGCF in page
    assert "Neural Graph Collaborative Filtering" in page and "SIGIR 2019" in page
    assert "0 comments" in page


def test_list_page_without_reviews_says_so(client):
    Review.objects.all().delete()
    response = client.get("/paper_review/")
    assert response.status_code == 200
    assert "No reviews yet." in response.content.decode()


def test_review_page_renders_math_code_and_paper_details(client):
    response = client.get(NCF)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in page
    assert '<div class="codehilite">' in page
    assert "/static/paper_review/pygments.css" in page
    assert "Xiangnan He" in page and "WWW 2017" in page
    assert 'href="https://arxiv.org/abs/1708.05031"' in page
    article = page.split('<article class="review">', 1)[1].split("</article>", 1)[0]
    assert "<script" not in article


def test_review_page_has_try_it_links_to_its_model_pages(client):
    ncf_page = client.get(NCF).content.decode()
    assert '<a class="try-it" href="/movie/gmf">Try GMF →</a>' in ncf_page
    assert '<a class="try-it" href="/movie/neumf">Try NeuMF →</a>' in ncf_page
    assert "Try MLP" not in ncf_page  # MLP has no page of its own
    ngcf_page = client.get(NGCF).content.decode()
    assert '<a class="try-it" href="/movie/ngcf">Try NGCF →</a>' in ngcf_page


def test_review_page_shows_live_numbers_table_before_training(client):
    page = client.get(NGCF).content.decode()
    table = page.split('id="live-numbers"', 1)[1].split("</figure>", 1)[0]
    assert "no active version" in table
    for header in ("HR@10", "NDCG@10", "Recall@20", "NDCG@20", "Hit@50", "AUC"):
        assert header in table
    # The table sits inside the review's comparison section, not after the whole text.
    assert page.index('id="live-numbers"') < page.index("Verdict")


def test_unknown_review_is_a_404(client):
    response = client.get("/paper_review/no-such-paper/")
    assert response.status_code == 404
    assert "There is no paper review called &#x27;no-such-paper&#x27;." in response.content.decode()


def test_review_page_without_comments_says_so(client):
    page = client.get(NCF).content.decode()
    assert "No comments yet." in page
    assert "to join the discussion" in page  # anonymous readers are pointed at login / sign-up
    assert f'href="/accounts/signup/?next={NCF}"' in page


# --- Posting comments -------------------------------------------------------------------


def test_logged_in_user_posts_a_comment(alice, ncf_review):
    client = logged_in(alice)
    response = client.post(NCF_COMMENTS, {"body": "Clear write-up of the fusion layer."})
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{NCF}#comment-{comment.pk}"
    assert (comment.review, comment.author) == (ncf_review, alice)
    page = client.get(NCF).content.decode()
    assert "Clear write-up of the fusion layer." in page
    assert "No comments yet." not in page


def test_anonymous_post_redirects_to_login_and_stores_nothing(client):
    response = client.post(NCF_COMMENTS, {"body": "drive-by"})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={NCF}"
    assert Comment.objects.count() == 0


def test_comment_post_needs_a_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(NCF_COMMENTS, {"body": "forged"})
    assert response.status_code == 403
    assert Comment.objects.count() == 0


def test_comment_url_accepts_only_post(alice):
    assert logged_in(alice).get(NCF_COMMENTS).status_code == 405


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "Write something before posting."),
        ("   \n ", "Write something before posting."),
        ("x" * (COMMENT_MAX_LENGTH + 1), f"Comments are limited to {COMMENT_MAX_LENGTH} characters (yours has 2001)."),
    ],
)
def test_invalid_comment_is_refused_with_a_clear_error(alice, body, message):
    response = logged_in(alice).post(NCF_COMMENTS, {"body": body})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Comment.objects.count() == 0


def test_comment_of_exactly_the_limit_is_accepted(alice):
    logged_in(alice).post(NCF_COMMENTS, {"body": "y" * COMMENT_MAX_LENGTH})
    assert len(Comment.objects.get().body) == COMMENT_MAX_LENGTH


def test_comment_html_is_escaped_and_line_breaks_kept(alice, client):
    logged_in(alice).post(NCF_COMMENTS, {"body": "<script>alert('x')</script>\n<b>bold?</b>\nsecond line"})
    page = client.get(NCF).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;<br>&lt;b&gt;bold?&lt;/b&gt;<br>second line" in page
    assert "<script>alert" not in page and "<b>bold?" not in page


def test_comments_are_listed_newest_first(alice, bob, ncf_review, client):
    Comment.objects.create(review=ncf_review, author=alice, body="first comment")
    Comment.objects.create(review=ncf_review, author=bob, body="second comment")
    page = client.get(NCF).content.decode()
    assert page.index("second comment") < page.index("first comment")


def test_hidden_comments_are_not_shown(alice, ncf_review, client):
    Comment.objects.create(review=ncf_review, author=alice, body="spam spam spam", is_hidden=True)
    page = client.get(NCF).content.decode()
    assert "spam spam spam" not in page
    assert "No comments yet." in page


# --- Deleting comments ------------------------------------------------------------------


@pytest.fixture
def alice_comment(alice, ncf_review):
    return Comment.objects.create(review=ncf_review, author=alice, body="my own words")


def delete_url(comment):
    return f"{NCF}comments/{comment.pk}/delete/"


def test_author_sees_delete_link_and_confirmation_page(alice, bob, alice_comment):
    assert delete_url(alice_comment) in logged_in(alice).get(NCF).content.decode()
    assert delete_url(alice_comment) not in logged_in(bob).get(NCF).content.decode()
    confirm = logged_in(alice).get(delete_url(alice_comment))
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Delete this comment?" in page and "my own words" in page and 'name="csrfmiddlewaretoken"' in page
    assert Comment.objects.filter(pk=alice_comment.pk).exists()  # GET only asks


def test_author_deletes_own_comment(alice, alice_comment):
    response = logged_in(alice).post(delete_url(alice_comment))
    assert response.status_code == 302
    assert response["Location"] == f"{NCF}#comments"
    assert not Comment.objects.filter(pk=alice_comment.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_other_users_get_403_and_nothing_is_deleted(bob, alice_comment, method):
    response = getattr(logged_in(bob), method)(delete_url(alice_comment))
    assert response.status_code == 403
    assert "Only the author of a comment can delete it." in response.content.decode()
    assert Comment.objects.filter(pk=alice_comment.pk).exists()


def test_anonymous_delete_redirects_to_login_and_keeps_the_comment(client, alice_comment):
    response = client.post(delete_url(alice_comment))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Comment.objects.filter(pk=alice_comment.pk).exists()


def test_delete_needs_a_csrf_token(alice, alice_comment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(delete_url(alice_comment)).status_code == 403
    assert Comment.objects.filter(pk=alice_comment.pk).exists()


def test_comment_of_another_review_is_a_404(alice, alice_comment):
    response = logged_in(alice).post(f"{NGCF}comments/{alice_comment.pk}/delete/")
    assert response.status_code == 404
    assert "There is no such comment here" in response.content.decode()
    assert Comment.objects.filter(pk=alice_comment.pk).exists()


# --- Signing up to comment -----------------------------------------------------------------


def test_signup_creates_a_user_logs_in_and_returns_to_the_review(client):
    assert client.get("/accounts/signup/").status_code == 200
    response = client.post(
        "/accounts/signup/",
        {"username": "carol", "password1": PASSWORD, "password2": PASSWORD, "next": NCF},
    )
    assert response.status_code == 302 and response["Location"] == NCF
    carol = get_user_model().objects.get(username="carol")
    assert client.session["_auth_user_id"] == str(carol.pk)
    client.post(NCF_COMMENTS, {"body": "new member here"})
    assert Comment.objects.get().author == carol


# --- Moderation in the admin ----------------------------------------------------------------


def test_staff_hide_comments_in_the_admin(alice_comment):
    admin = get_user_model().objects.create_superuser("mod", password=PASSWORD)
    client = logged_in(admin)
    assert client.get("/admin/paper_review/comment/").status_code == 200
    response = client.post("/admin/paper_review/comment/", {"action": "hide", "_selected_action": [alice_comment.pk]})
    assert response.status_code == 302
    alice_comment.refresh_from_db()
    assert alice_comment.is_hidden


def test_non_staff_cannot_reach_comment_moderation(alice, alice_comment):
    response = logged_in(alice).get("/admin/paper_review/comment/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
