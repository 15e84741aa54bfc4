from django.contrib.auth import views as auth_views
from django.urls import path

from hotline.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("verify/", views.verify, name="verify"),
    path("enrol/", views.enrol, name="enrol"),
    path("confirm/", views.reauth, name="reauth"),
    path("security/", views.security, name="security"),
    path("security/recovery-codes/", views.recovery_codes, name="recovery_codes"),
]
