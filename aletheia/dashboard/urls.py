from django.urls import path

from aletheia.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("centres/<int:pk>/", views.centre, name="centre"),
    path("runs/", views.runs, name="runs"),
    path("export.csv", views.export_csv, name="export"),
]
