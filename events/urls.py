from django.urls import include, path

from events import activity, views

urlpatterns = [
    path("api/events", views.post_events, name="post_events"),
    path("activity/", include(activity.urlpatterns)),
]
