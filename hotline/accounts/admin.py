"""Django's admin: superusers only (break-glass, made with `hotline createsuperuser`), logged in through the
two-step login; role changes go through the audited service and need a recent password + code. Daily user and
API-client work is on the product's administration pages (`administration.py`), for the administrator role."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from hotline.accounts.access import reauth_redirect
from hotline.accounts.models import ApiClient, User
from hotline.accounts.services import set_role
from hotline.accounts.session import recently_authenticated
from hotline.audit.services import Actor


def _superusers_only(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.is_active and user.is_superuser


def _login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's own password-only login would skip the second factor: use the site's login."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"), login_url=reverse("accounts:login"))


admin.site.has_permission = _superusers_only  # type: ignore[method-assign]
admin.site.login = _login  # type: ignore[method-assign]
admin.site.site_header = "Hotline administration"


@admin.register(User)
class HotlineUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Hotline", {"fields": ("role", "organisation")}))
    # Roles go through the audited set_role; is_staff and is_superuser are set only by `hotline createsuperuser`.
    readonly_fields = ("is_staff", "is_superuser", "groups", "user_permissions", "last_login", "date_joined")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST" and self._changes_role(request, object_id) and not recently_authenticated(request):
            return reauth_redirect(request, back_to=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not recently_authenticated(request):
            return reauth_redirect(request, back_to=request.get_full_path())
        return super().user_change_password(request, id, form_url)

    @staticmethod
    def _changes_role(request: HttpRequest, object_id: str) -> bool:
        if "role" not in request.POST or not object_id.isdigit():
            return False
        current = User.objects.filter(pk=int(object_id)).values_list("role", flat=True).first()
        return request.POST["role"] != (current or "")

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        new_role = obj.role
        if change and "role" in form.changed_data:
            obj.role = form.initial.get("role", "")
            super().save_model(request, obj, form, change)
            set_role(obj, new_role, actor=Actor.of_user(request.user))
            return
        super().save_model(request, obj, form, change)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "kind", "country", "token_prefix", "is_active", "created_at")
    readonly_fields = ("token_prefix", "token_hash", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued with `hotline api-client add`, which shows them once
