from django.contrib import admin

from .models import Activity, Dispute, Handoff, Objection


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ("lead", "kind", "from_user", "to_user", "handed_at", "outcome", "responded_at")
    list_filter = ("kind", "outcome", "rejection_reason")
    search_fields = ("lead__email", "lead__last_name", "to_user__username")
    raw_id_fields = ("lead", "from_user", "to_user")
    list_select_related = ("lead", "from_user", "to_user")
    show_full_result_count = False


class ReadOnly:
    """Append-only records: nothing is added, changed or deleted here (SPEC §2)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ObjectionInline(ReadOnly, admin.TabularInline):
    model = Objection
    extra = 0
    raw_id_fields = ("lead",)


@admin.register(Activity)
class ActivityAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: activities are append-only; a correction is a new activity."""

    list_display = (
        "lead",
        "kind",
        "outcome",
        "user",
        "occurred_at",
        "logged_at",
        "logged_late",
        "corrects",
    )
    list_filter = ("kind", "outcome", "logged_late")
    search_fields = ("lead__email", "lead__last_name", "notes")
    raw_id_fields = ("lead", "user")
    list_select_related = ("lead", "user", "corrects")
    readonly_fields = ("logged_at", "logged_late", "corrects")
    inlines = [ObjectionInline]
    show_full_result_count = False


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ("lead", "raised_by", "raised_at", "ruling", "ruled_by", "ruled_at")
    list_filter = ("ruling",)
    raw_id_fields = ("lead", "handoff", "raised_by", "ruled_by")
    list_select_related = ("lead", "raised_by", "ruled_by")
