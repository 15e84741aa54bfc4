"""Admin area: administrators only; role changes go through the audited service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from hotline.accounts.models import ApiClient, Role, User
from hotline.accounts.services import set_role
from hotline.audit.services import Actor


def _admin_only(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.has_role(Role.ADMIN)


admin.site.has_permission = _admin_only  # type: ignore[method-assign]
admin.site.site_header = "Hotline administration"


@admin.register(User)
class HotlineUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Hotline", {"fields": ("role", "organisation")}))

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
