from django.urls import path

from hotline.selfreferral import views

app_name = "selfreferral"
urlpatterns = [
    path("remove-my-images/", views.start, name="start"),
    path("remove-my-images/status/", views.status, name="status"),
    path("remove-my-images/withdraw/", views.withdraw, name="withdraw"),
    path("self-referrals/", views.queue, name="queue"),
    path("self-referrals/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("self-referrals/<int:pk>/reject/", views.reject, name="reject"),
]
