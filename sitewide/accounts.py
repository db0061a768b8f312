"""Sign-up, so that readers can become users (to comment on the paper reviews).

Logging in and out are Django's own views (django.contrib.auth.urls under
/accounts/, templates in sitewide/templates/registration/); this adds the one
page Django does not ship.
"""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.http import require_http_methods

from sitewide.errors import on_this_site
from sitewide.throttling import throttle_signups


class SignupForm(UserCreationForm):
    """Django's form, with a weak password's reasons under the password itself
    (Django puts them under the confirmation, next to the mismatch error)."""

    def validate_password_for_user(self, user, **kwargs):
        super().validate_password_for_user(user, password_field_name="password1")


def safe_next_url(request):
    """The ?next= target if it is a path on this site, else the default after
    login. Never a URL name: ``redirect("home")`` would reverse what a
    visitor typed (NoReverseMatch, a 500 after the account was made)."""
    target = request.POST.get("next") or request.GET.get("next", "")
    if target.startswith("/") and on_this_site(request, target):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "HEAD", "POST"])
@throttle_signups
def signup(request):
    if request.user.is_authenticated:
        return HttpResponseRedirect(safe_next_url(request))
    form = SignupForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(safe_next_url(request))
    next_url = request.POST.get("next") or request.GET.get("next", "")
    status = 400 if form.is_bound else 200
    return render(request, "registration/signup.html", {"form": form, "next": next_url}, status=status)
