from django.urls import path

from hotline.assessment import views

app_name = "assessment"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.take_next, name="next"),
    path("items/", views.item_list, name="items"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/claim/", views.claim, name="claim"),
    path("items/<int:pk>/release/", views.release, name="release"),
    path("items/<int:pk>/assess/", views.assess, name="assess"),
    path("items/<int:pk>/request-review/", views.request_review, name="request_review"),
]
