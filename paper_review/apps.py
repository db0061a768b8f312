from django.apps import AppConfig


class PaperReviewConfig(AppConfig):
    name = "paper_review"
    verbose_name = "Paper reviews"
