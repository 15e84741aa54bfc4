from django.urls import path

from hotline.reports import views

app_name = "reports"
urlpatterns = [
    path("report/", views.report_form, name="form"),
    path("report/status/", views.report_status, name="status"),
]
