from django.urls import path

from hotline.stats import views

app_name = "stats"
urlpatterns = [
    path("statistics/", views.dashboard, name="dashboard"),
]
