"""Review Markdown rendering, the shipped reviews, live numbers and review links."""

import datetime
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from paper_review import live_numbers
from paper_review.links import review_url_for_model
from paper_review.models import Paper, Review
from paper_review.rendering import pygments_css, render_markdown, split_at_live_numbers
from paper_review.shipped import ReviewFileError, load_shipped_reviews, parse_review_file, shipped_reviews

PYGMENTS_CSS = Path(__file__).resolve().parent.parent / "static" / "paper_review" / "pygments.css"


# --- Markdown, math, code, sanitizing -------------------------------------------


def test_inline_and_display_math_become_mathml():
    html = render_markdown("Score $\\hat{y}_{ui}$ is\n\n$$\n\\sigma(\\mathbf{h}^\\top x)\n$$\n")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert 'display="block"' in html
    assert "<msub>" in html and "σ" in html
    assert "$" not in html


def test_math_is_protected_from_markdown_emphasis():
    html = render_markdown("Both $a_{i}*b_{j}$ and $c_{k}*d_{l}$ stay math, *this* is emphasis.")
    assert html.count("<math") == 2
    assert html.count("<em>") == 1  # only the real one
    assert "<mo>*</mo>" in html


def test_dollars_in_code_and_prices_stay_text():
    html = render_markdown("Code `$x$` and prices $5 or $6.")
    assert "<code>$x$</code>" in html
    assert "$5 or $6" in html
    assert "<math" not in html


def test_broken_latex_is_shown_as_escaped_source():
    html = render_markdown("Oops $<b>\\frac{$ here")
    assert '<code class="math-error">&lt;b&gt;\\frac{</code>' in html


def test_fenced_code_is_highlighted_by_pygments():
    html = render_markdown("```python\ndef score(u, i):\n    return u @ i\n```\n")
    assert '<div class="codehilite">' in html
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">score</span>' in html


@pytest.mark.parametrize(
    "markdown_source, forbidden",
    [
        ("<script>alert('x')</script>", ["<script", "alert("]),
        ('<img src="x" onerror="alert(1)">', ["<img", "onerror"]),
        ("[click](javascript:alert(1))", ["javascript:"]),
        ('<a href="#" onclick="steal()">x</a>', ["onclick"]),
        ("<iframe src='https://evil.example'></iframe>", ["<iframe"]),
        ("<style>body{display:none}</style>", ["<style", "display:none"]),
        ('<math><mi href="javascript:alert(1)" onclick="x()">x</mi></math>', ["javascript:", "onclick"]),
        ('<div style="position:fixed">x</div>', ["position"]),
    ],
)
def test_html_in_markdown_cannot_inject_script(markdown_source, forbidden):
    html = render_markdown(markdown_source)
    for fragment in forbidden:
        assert fragment not in html


def test_links_get_noopener():
    html = render_markdown("[paper](https://arxiv.org/abs/1708.05031)")
    assert '<a href="https://arxiv.org/abs/1708.05031" rel="noopener noreferrer">paper</a>' in html


def test_split_at_live_numbers_marker():
    before, after = split_at_live_numbers(render_markdown("Intro\n\n[live-numbers]\n\nOutro"))
    assert "Intro" in before and "Outro" in after
    assert split_at_live_numbers("<p>No marker</p>") == ("<p>No marker</p>", "")


def test_committed_pygments_css_matches_the_generator():
    # After a Pygments upgrade: write pygments_css() to this file again.
    assert PYGMENTS_CSS.read_text(encoding="utf-8") == pygments_css()


# --- Shipped reviews --------------------------------------------------------------


def test_shipped_reviews_render_math_code_and_live_marker():
    reviews = {shipped.review["slug"]: shipped for shipped in shipped_reviews()}
    assert set(reviews) == {
        "neural-collaborative-filtering",
        "neural-graph-collaborative-filtering",
        "embarrassingly-shallow-autoencoders",
    }
    for shipped in reviews.values():
        html = render_markdown(shipped.body)
        assert "math-error" not in html
        assert html.count("<math") > 10
        assert '<div class="codehilite">' in html
        assert "<p>[live-numbers]</p>" in html
    assert reviews["neural-collaborative-filtering"].paper["site_models"] == "gmf, mlp, neumf"
    assert "0.1569" in reviews["neural-graph-collaborative-filtering"].body
    assert reviews["embarrassingly-shallow-autoencoders"].paper["site_models"] == "ease"


@pytest.mark.django_db
def test_migration_loaded_the_reviews_and_loading_again_changes_nothing():
    assert Review.objects.count() == 3  # by migrations 0002 and 0003
    results = load_shipped_reviews(Paper, Review)
    assert [created for _, created in results] == [False, False, False]
    assert Review.objects.count() == 3 and Paper.objects.count() == 3


@pytest.mark.django_db
def test_loading_only_missing_reviews_adds_new_ones_and_keeps_admin_edits():
    """What migration 0003 does on a site migrated before the EASE review shipped."""
    Review.objects.filter(slug="embarrassingly-shallow-autoencoders").delete()
    Review.objects.filter(slug="neural-collaborative-filtering").update(body="edited in the admin")
    results = load_shipped_reviews(Paper, Review, only_missing=True)
    assert [(review.slug, created) for review, created in results] == [("embarrassingly-shallow-autoencoders", True)]
    assert Review.objects.get(slug="neural-collaborative-filtering").body == "edited in the admin"


@pytest.mark.django_db
def test_load_reviews_command_restores_an_edited_review(capsys):
    Review.objects.filter(slug="neural-collaborative-filtering").update(body="vandalised")
    call_command("load_reviews")
    assert "The problem" in Review.objects.get(slug="neural-collaborative-filtering").body
    assert "3 review(s) loaded: 0 created, 3 updated." in capsys.readouterr().out


@pytest.mark.django_db
def test_load_reviews_command_explains_a_missing_folder(tmp_path):
    with pytest.raises(CommandError, match="No such folder"):
        call_command("load_reviews", "--dir", str(tmp_path / "nope"))


def test_review_file_without_front_matter_is_refused(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text("# Just a body\n", encoding="utf-8")
    with pytest.raises(ReviewFileError, match="front-matter"):
        parse_review_file(path)


@pytest.mark.django_db
def test_unknown_site_model_name_is_refused():
    paper = Paper(slug="p", title="P", authors="A", venue="V", year=2020, site_models="gmf, sasrec")
    with pytest.raises(ValidationError, match="sasrec"):
        paper.full_clean()


# --- Live numbers from the model registry -------------------------------------------


def test_live_rows_without_a_registry_say_not_trained(monkeypatch):
    monkeypatch.setattr(live_numbers, "registry_model", lambda: None)
    rows = live_numbers.live_rows(["gmf", "mlp", "neumf"])
    assert [row.label for row in rows] == ["GMF", "MLP", "NeuMF"]
    assert not any(row.trained for row in rows)
    assert all(value is None for row in rows for value in row.values)
    assert [row.page_url for row in rows] == ["/movie/gmf", None, "/movie/neumf"]


def test_metric_values_tolerate_missing_protocols():
    values = live_numbers.metric_values({"ncf": {"hr@10": 0.7, "ndcg@10": 0.42}, "d2l": "not a dict"})
    assert values == [0.7, 0.42, None, None, None, None]


def registry_or_skip():
    try:
        registry = apps.get_model("predictors", "ModelVersion")
    except LookupError:
        pytest.skip("predictors.models.ModelVersion does not exist yet (the registry is being written)")
    if registry._meta.db_table not in connection.introspection.table_names():
        pytest.skip("ModelVersion has no migration yet, so the test database has no registry table")
    return registry


def make_model_version(registry, **fields):
    """A ModelVersion with the given fields and harmless values for any other required one."""
    fillers = {"CharField": "test", "TextField": "", "JSONField": {}, "DateTimeField": timezone.now(),
               "IntegerField": 0, "PositiveIntegerField": 0, "BigIntegerField": 0, "FloatField": 0.0,
               "PositiveBigIntegerField": 0, "BooleanField": False}  # fmt: skip
    for model_field in registry._meta.concrete_fields:
        if model_field.name in fields or model_field.primary_key or model_field.null or model_field.has_default():
            continue
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            continue
        fields[model_field.name] = fillers.get(model_field.get_internal_type(), "")
    return registry.objects.create(**fields)


@pytest.mark.django_db
def test_live_rows_read_the_active_version_from_the_real_registry():
    registry = registry_or_skip()
    assert live_numbers.live_rows(["ngcf"])[0].trained is False  # empty table
    metrics = {
        "ncf": {"hr@10": 0.71, "ndcg@10": 0.43},
        "full": {"recall@20": 0.31, "ndcg@20": 0.29},
        "d2l": {"hit@50": 0.45, "auc": 0.91},
    }
    make_model_version(registry, model_name="ngcf", version=1, status="retired", metrics={"ncf": {"hr@10": 0.1}})
    make_model_version(registry, model_name="ngcf", version=2, metrics=metrics, dataset="ml-100k").activate()
    make_model_version(registry, model_name="ngcf", version=3, status="candidate", metrics={"ncf": {"hr@10": 0.9}})
    row = live_numbers.live_rows(["ngcf"])[0]
    assert row.trained and (row.version, row.dataset) == (2, "ml-100k")
    assert row.values == [0.71, 0.43, 0.31, 0.29, 0.45, 0.91]


# --- Links from model pages ----------------------------------------------------------


@pytest.mark.django_db
def test_review_url_for_each_model_page():
    assert review_url_for_model("gmf") == "/paper_review/neural-collaborative-filtering/"
    assert review_url_for_model("neumf") == "/paper_review/neural-collaborative-filtering/"
    assert review_url_for_model("ngcf") == "/paper_review/neural-graph-collaborative-filtering/"
    assert review_url_for_model("popularity") is None


@pytest.mark.django_db
def test_review_url_prefers_the_newest_review():
    paper = Paper.objects.get(slug="ngcf-2019")
    Review.objects.create(paper=paper, slug="ngcf-revisited", title="NGCF revisited", author="Team",
                          date=datetime.date(2030, 1, 1), body="New.")  # fmt: skip
    assert review_url_for_model("ngcf") == "/paper_review/ngcf-revisited/"
