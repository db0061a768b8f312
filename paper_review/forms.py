from django import forms

from paper_review.models import COMMENT_MAX_LENGTH, Comment


class CommentForm(forms.ModelForm):
    class Meta:
        model = Comment
        fields = ["body"]
        labels = {"body": "Your comment"}
        help_texts = {"body": f"Plain text, up to {COMMENT_MAX_LENGTH} characters."}
        error_messages = {
            "body": {
                "required": "Write something before posting.",
                "max_length": "Comments are limited to %(limit_value)d characters (yours has %(show_value)d).",
            }
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}
