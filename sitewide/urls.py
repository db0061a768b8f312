from django.urls import path

from sitewide import accounts

urlpatterns = [
    path("accounts/signup/", accounts.signup, name="signup"),
]
