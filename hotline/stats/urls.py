from django.urls import path

from hotline.stats import views

app_name = "stats"
urlpatterns = [
    path("statistics/", views.dashboard, name="dashboard"),
    path("statistics/transparency/", views.transparency_report, name="transparency"),
    path("statistics/annual/", views.annual_reports, name="annual"),
]
