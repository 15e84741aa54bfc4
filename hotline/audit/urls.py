from django.urls import path

from hotline.audit import views

app_name = "audit"
urlpatterns = [path("audit/", views.index, name="index")]
