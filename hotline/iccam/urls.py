from django.urls import path

from hotline.iccam import views

app_name = "iccam"
urlpatterns = [
    path("iccam/errors/", views.errors, name="errors"),
]
