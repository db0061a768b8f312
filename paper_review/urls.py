from django.urls import path

from paper_review import views

app_name = "paper_review"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/comments/", views.post_comment, name="post_comment"),
    path("<slug:slug>/comments/<int:pk>/delete/", views.delete_comment, name="delete_comment"),
]
