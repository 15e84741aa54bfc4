from django.urls import path

from hotline.retention import views

app_name = "retention"
urlpatterns = [
    path("retention/", views.plan, name="plan"),
    path("retention/holds/", views.hold_list, name="holds"),
    path("retention/holds/place/", views.place, name="place"),
    path("retention/holds/<int:pk>/release/", views.release, name="release"),
]
