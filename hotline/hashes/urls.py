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
]
