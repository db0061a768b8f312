from django.contrib import admin
from django.urls import path

from predictors import views
from predictors.admin import dashboard_view

urlpatterns = [
    path("for-you/", views.for_you, name="for_you"),
    path("for-you/rows", views.home_rows_fragment, name="home_rows_fragment"),
    path("compare/", views.compare, name="compare_models"),
    # Under /admin/ and wrapped in admin_view: staff only, the admin's login.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="registry_dashboard"),
]
