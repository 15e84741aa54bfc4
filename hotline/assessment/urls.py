from django.urls import path

from hotline.assessment import queue_views, views

app_name = "assessment"
urlpatterns = [
    path("queue/", queue_views.queue, name="queue"),
    path("queue/next/", queue_views.take_next, name="next"),
    path("queue/unavailable/", queue_views.bulk_unavailable, name="bulk_unavailable"),
    path("items/<int:pk>/retry-capture/", queue_views.retry_capture, name="retry_capture"),
    path("items/<int:pk>/assess-unavailable/", queue_views.assess_unavailable, name="assess_unavailable"),
    path("items/", views.item_list, name="items"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/claim/", views.claim, name="claim"),
    path("items/<int:pk>/release/", views.release, name="release"),
    path("items/<int:pk>/assess/", views.assess, name="assess"),
    path("items/<int:pk>/request-review/", views.request_review, name="request_review"),
]
