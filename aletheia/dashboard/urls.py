from django.urls import path

from aletheia.dashboard import staff, views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("centres/<int:pk>/", views.centre, name="centre"),
    path("runs/", views.runs, name="runs"),
    path("alerts/", views.alerts, name="alerts"),
    path("export.csv", views.export_csv, name="export"),
    path("centres/add/", staff.centre_add, name="centre-add"),
    path("centres/<int:pk>/expectations/", staff.centre_expectations, name="expectations"),
    path("centres/<int:pk>/follow/", staff.centre_follow, name="centre-follow"),
    path("centres/<int:pk>/sync/", staff.centre_sync, name="centre-sync"),
    path("doctolib/", staff.doctolib_status, name="doctolib"),
]
