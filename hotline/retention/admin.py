"""Read-only admin views: holds change only through the hold pages (services, audited)."""

from django.contrib import admin
from django.http import HttpRequest

from hotline.retention.models import Hold, PurgedObject, Schedule


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Hold)
class HoldAdmin(_ReadOnly):
    list_display = ("object_type", "object_id", "placed_at", "placed_by", "released_at", "released_by")
    list_filter = ("object_type",)


@admin.register(Schedule)
class ScheduleAdmin(_ReadOnly):
    list_display = ("data_class", "next_run_at", "lease_until", "last_finished_at", "last_purged")


@admin.register(PurgedObject)
class PurgedObjectAdmin(_ReadOnly):
    list_display = ("data_class", "object_id", "purged_at", "sha256")
    list_filter = ("data_class",)
