from django.contrib import admin

from paper_review.models import Comment, Paper, Review
from sitewide.admin_actions import CheckedSelectionAdmin


@admin.register(Paper)
class PaperAdmin(CheckedSelectionAdmin):
    list_display = ["title", "venue", "year", "site_models"]
    search_fields = ["title", "authors"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(Review)
class ReviewAdmin(CheckedSelectionAdmin):
    list_display = ["title", "paper", "author", "date"]
    list_select_related = ["paper"]
    search_fields = ["title", "body"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "date"
    view_on_site = True


@admin.register(Comment)
class CommentAdmin(CheckedSelectionAdmin):
    """Moderation: hide (reversible) or delete what breaks the rules."""

    list_display = ["excerpt", "author", "review", "created_at", "is_hidden"]
    list_filter = ["is_hidden", "review", "created_at"]
    list_select_related = ["author", "review"]
    search_fields = ["body", "author__username"]
    readonly_fields = ["review", "author", "body", "created_at"]
    actions = ["hide", "unhide"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # comments come from readers, not from the admin

    @admin.display(description="Comment")
    def excerpt(self, comment):
        return comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"

    @admin.action(description="Hide the selected comments from the site")
    def hide(self, request, queryset):
        count = queryset.update(is_hidden=True)
        self.message_user(request, f"{count} comment(s) hidden.")

    @admin.action(description="Show the selected comments on the site again")
    def unhide(self, request, queryset):
        count = queryset.update(is_hidden=False)
        self.message_user(request, f"{count} comment(s) shown again.")
