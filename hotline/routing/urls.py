from django.urls import path

from hotline.routing import views

app_name = "routing"
urlpatterns = [
    path("routing/attention/", views.attention, name="attention"),
    path("items/<int:pk>/routing/", views.item_routing, name="item"),
    path("items/<int:pk>/evidence-package/", views.item_package, name="item_package"),
    path("referrals/", views.referral_list, name="referrals"),
    path("referrals/<int:pk>/", views.referral_detail, name="referral"),
    path("referrals/<int:pk>/answer/", views.answer, name="answer"),
    path("referrals/<int:pk>/package/", views.referral_package, name="package"),
]
