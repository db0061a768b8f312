"""The admin's changelist actions, on the ids the form posts."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from sitewide.errors import error_response
from sitewide.numbers import MAX_ID


class CheckedSelectionAdmin(admin.ModelAdmin):
    """A ModelAdmin whose actions refuse, with a 400 and a sentence, a
    selection holding something that is no id of the model ("abc", a number
    past 64 bits). Django's own ``filter(pk__in=...)`` raised ValueError, or
    OverflowError on SQLite, once the action ran: a 500."""

    def response_action(self, request, queryset):
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        if not all(map(self._is_an_id, selected)):
            names = self.model._meta.verbose_name_plural
            return error_response(
                request,
                400,
                "Bad request",
                f"The selection holds something that is no id of {names}; nothing was changed.",
                back_url=request.get_full_path(),
            )
        return super().response_action(request, queryset)

    def _is_an_id(self, value):
        try:
            pk = self.model._meta.pk.to_python(value)
        except ValidationError:
            return False
        return not isinstance(pk, int) or abs(pk) <= MAX_ID
