from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from predictors.names import MODEL_LABELS  # a paper lists the site's models that implement it

COMMENT_MAX_LENGTH = 2000


def split_model_names(value):
    """ "gmf, MLP ,neumf" -> ["gmf", "mlp", "neumf"] (order kept, blanks dropped)."""
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def validate_site_models(value):
    unknown = [name for name in split_model_names(value) if name not in MODEL_LABELS]
    if unknown:
        raise ValidationError(
            "Unknown model name(s): %(unknown)s. Use a comma list of: %(known)s.",
            params={"unknown": ", ".join(unknown), "known": ", ".join(MODEL_LABELS)},
        )


class Paper(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=300)
    authors = models.CharField(max_length=500, help_text="As printed on the paper, comma separated.")
    venue = models.CharField(max_length=200, help_text='e.g. "WWW 2017"')
    year = models.PositiveSmallIntegerField()
    link = models.URLField(blank=True)
    site_models = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_site_models],
        help_text="Comma list of the site's models that implement this paper: " + ", ".join(MODEL_LABELS),
    )

    class Meta:
        ordering = ["year", "title"]

    def __str__(self):
        return f"{self.title} ({self.venue})"

    @property
    def model_names(self):
        return split_model_names(self.site_models)

    @property
    def model_labels(self):
        return [MODEL_LABELS.get(name, name) for name in self.model_names]


class Review(models.Model):
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="reviews")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=300)
    author = models.CharField(max_length=200, help_text="Who wrote the review, as shown on the page.")
    date = models.DateField()
    summary = models.CharField(max_length=500, blank=True, help_text="One or two sentences for the list page.")
    body = models.TextField(
        help_text="Markdown. $...$ and $$...$$ are LaTeX math; a line [live-numbers] places the table of "
        "this site's measured numbers (otherwise it follows the text)."
    )

    class Meta:
        ordering = ["-date", "title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("paper_review:detail", args=[self.slug])


class Comment(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_comments")
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Staff hide a comment instead of deleting it, so a moderation decision can be undone.
    is_hidden = models.BooleanField(default=False, help_text="Hidden comments are not shown on the site.")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.author} on {self.review}: {self.body[:40]}"

    def can_delete(self, user):
        return user.is_authenticated and user.pk == self.author_id
