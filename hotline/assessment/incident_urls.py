from django.urls import path

from hotline.assessment import incident_views as views

app_name = "incidents"
urlpatterns = [
    path("report/without-link/", views.report_form, name="report"),
    path("incidents/", views.queue, name="queue"),
    path("incidents/<int:pk>/", views.detail, name="detail"),
    path("incidents/<int:pk>/take/", views.take, name="take"),
    path("incidents/<int:pk>/refer/", views.refer, name="refer"),
    path("incidents/<int:pk>/close/", views.close, name="close"),
    path("incidents/<int:pk>/annotate/", views.annotate, name="annotate"),
    path("incidents/<int:pk>/screenshots/<int:position>/", views.screenshot, name="screenshot"),
]
