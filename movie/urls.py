from django.urls import path

from movie import views

app_name = "movie"
urlpatterns = [
    path("", views.home, name="home"),
    path("movie/<int:pk>/", views.detail, name="detail"),
    path("movie/<int:pk>/poster.svg", views.poster, name="poster"),
    path("search/", views.search, name="search"),
    path("api/search", views.search_suggestions, name="search_suggestions"),
    path("genres/", views.browse, name="browse"),
    path("genres/<slug:slug>/", views.genre, name="genre"),
    path("tags/<str:slug>/", views.tag, name="tag"),
]
