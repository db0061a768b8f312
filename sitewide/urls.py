from django.urls import path

from sitewide import accounts, views

urlpatterns = [
    path("accounts/signup/", accounts.signup, name="signup"),
    path("favicon.ico", views.favicon, name="favicon"),
]
