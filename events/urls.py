from django.urls import path

from events import views

urlpatterns = [
    path("api/events", views.post_events, name="post_events"),
]
