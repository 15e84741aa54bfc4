from django.contrib.auth import views as auth_views
from django.urls import path

from hotline.accounts import administration as admin_views
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
    # administration (administrators only)
    path("users/", admin_views.users, name="admin_users"),
    path("users/new/", admin_views.user_new, name="admin_user_new"),
    path("users/<int:pk>/", admin_views.user_detail, name="admin_user"),
    path("users/<int:pk>/role/", admin_views.user_role, name="admin_user_role"),
    path("users/<int:pk>/deactivate/", admin_views.user_deactivate, name="admin_user_deactivate"),
    path("users/<int:pk>/reactivate/", admin_views.user_reactivate, name="admin_user_reactivate"),
    path("users/<int:pk>/reset-second-factor/", admin_views.user_reset_second_factor,
         name="admin_user_reset_second_factor"),
    path("users/<int:pk>/unlock/", admin_views.user_unlock, name="admin_user_unlock"),
    path("api-clients/", admin_views.api_clients, name="admin_api_clients"),
    path("api-clients/new/", admin_views.api_client_new, name="admin_api_client_new"),
    path("api-clients/<int:pk>/revoke/", admin_views.api_client_revoke, name="admin_api_client_revoke"),
]
