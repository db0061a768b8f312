from django.urls import path

from paper_review import views

app_name = "paper_review"
urlpatterns = [
    path("", views.index, name="index"),
]
