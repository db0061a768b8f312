from django.contrib import admin
from django.urls import include, path

from predictors import views as predictor_views

# The events endpoint first: it takes the most requests (a click each), and
# URL resolution tries the patterns in order.
urlpatterns = [
    path("", include("events.urls")),
    path("", include("movie.urls")),
    path("movie/<slug:model_name>", predictor_views.model_page, name="model_page"),
    path("api/recommendations", predictor_views.recommendations_api, name="recommendations_api"),
    path("paper_review/", include("paper_review.urls")),
    path("", include("sitewide.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("predictors.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "sitewide.errors.bad_request"
handler403 = "sitewide.errors.permission_denied"
handler404 = "sitewide.errors.page_not_found"
handler500 = "sitewide.database.server_error"
