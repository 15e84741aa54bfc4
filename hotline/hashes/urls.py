from django.urls import path

from hotline.hashes import views

app_name = "hashes"
urlpatterns = [
    path("banks/", views.bank_list, name="banks"),
    path("banks/<int:pk>/", views.bank_detail, name="bank"),
    path("banks/entries/<int:pk>/disable/", views.disable, name="disable"),
    path("banks/pending/", views.pending, name="pending"),
    path("banks/pending/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("media/<int:pk>/overrule/", views.overrule, name="overrule"),
    path("media/<int:pk>/provenance/", views.media_provenance, name="media"),
    path("banks/<int:pk>/demote/", views.demote, name="demote"),
    path("banks/entries/<int:pk>/vote/", views.vote, name="vote"),
    path("banks/entries/<int:pk>/confirm-quarantined/", views.confirm_quarantined, name="confirm_quarantined"),
    path("banks/quarantines/", views.quarantines, name="quarantines"),
    path("banks/health/", views.health, name="health"),
    path("banks/health.csv", views.health_csv, name="health_csv"),
]
