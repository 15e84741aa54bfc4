"""Admin for the takedown directory: per-contact sending policies and escalation contacts (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from hotline.audit.services import Actor
from hotline.takedown.models import ContactPolicy, EscalationContact
from hotline.takedown.services import delete_directory_row, save_directory_row


class _Audited(admin.ModelAdmin):  # type: ignore[type-arg]
    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        save_directory_row(obj, actor=Actor.of_user(request.user))

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        delete_directory_row(obj, actor=Actor.of_user(request.user))


@admin.register(ContactPolicy)
class ContactPolicyAdmin(_Audited):
    list_display = ("contact", "timezone", "window_start", "window_end", "batch_minutes", "template")
    raw_id_fields = ("contact",)


@admin.register(EscalationContact)
class EscalationContactAdmin(_Audited):
    list_display = ("role", "domain", "provider", "contact")
    list_filter = ("role",)
    raw_id_fields = ("provider", "contact")
