from django.urls import path

from hotline.core import audit_views as views

app_name = "audit"
urlpatterns = [path("audit/", views.index, name="index")]
