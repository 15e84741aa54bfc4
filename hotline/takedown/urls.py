from django.urls import path

from hotline.takedown import views

app_name = "takedown"
urlpatterns = [
    path("takedown/notices/", views.notice_list, name="notices"),
    path("takedown/notices/<int:pk>/", views.notice_detail, name="notice"),
    path("takedown/items/<int:pk>/", views.item_takedown, name="item"),
    path("takedown/scorecards/", views.scorecard_list, name="scorecards"),
    path("takedown/scorecards.csv", views.scorecard_csv, name="scorecards_csv"),
    path("takedown/non-responders/", views.non_responder_list, name="non_responders"),
    path("takedown/requests/", views.request_list, name="requests"),
    path("takedown/requests/new/", views.request_new, name="request_new"),
    path("takedown/requests/<int:pk>/", views.request_detail, name="request"),
    path("takedown/requests/<int:pk>/answer/", views.request_answer, name="request_answer"),
    path("takedown/respond/", views.respond, name="respond"),
]
