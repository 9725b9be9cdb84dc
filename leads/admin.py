from django.contrib import admin

from .models import Flag, Holiday, Lead, SLAPolicy, StageChange, Touch


class TouchInline(admin.TabularInline):
    model = Touch
    extra = 0
    fields = ("occurred_at", "campaign", "inquiry_type", "source", "utm_source", "utm_medium")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "last_name",
        "first_name",
        "email",
        "company",
        "campaign",
        "stage",
        "owner",
        "origin",
        "created_at",
    )
    list_filter = ("stage", "owner_side", "origin", "inquiry_type", "campaign__channel")
    search_fields = ("email", "last_name", "first_name", "company")
    list_select_related = ("campaign", "owner")
    raw_id_fields = ("campaign", "last_touch_campaign", "owner", "created_by")
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over a million rows on every page is slow
    inlines = [TouchInline]
    # Stage and its timestamps only move through the lifecycle services.
    readonly_fields = (
        "stage",
        "owner_side",
        "created_at",
        "mql_at",
        "handed_off_at",
        "last_handed_off_at",
        "accepted_at",
        "rejected_at",
        "first_contact_at",
        "opportunity_at",
        "closed_at",
        "closed_from",
        "last_activity_at",
        "last_contact_at",
        "mql_due_at",
        "rejection_due_at",
        "response_due_at",
        "contact_due_at",
        "follow_up_due_at",
        "stale_due_at",
        "convert_due_at",
    )


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    """Read-only: the stage log is append-only."""

    list_display = ("lead", "from_stage", "to_stage", "by", "at")
    list_filter = ("to_stage", "from_stage")
    search_fields = ("lead__email", "lead__last_name")
    raw_id_fields = ("lead",)
    list_select_related = ("lead", "by")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = (
        "lead",
        "kind",
        "side",
        "responsible",
        "raised_at",
        "resolved_at",
        "notified_at",
    )
    list_filter = ("kind", "side", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("lead__email", "lead__last_name")
    raw_id_fields = ("lead", "responsible")
    list_select_related = ("lead", "responsible")
    show_full_result_count = False


@admin.register(Touch)
class TouchAdmin(admin.ModelAdmin):
    list_display = ("lead", "campaign", "inquiry_type", "source", "occurred_at")
    list_filter = ("source", "inquiry_type")
    search_fields = ("lead__email", "utm_campaign")
    raw_id_fields = ("lead", "campaign", "created_by")
    list_select_related = ("lead", "campaign")
    show_full_result_count = False


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "mql_waiting_minutes",
        "response_minutes",
        "first_contact_minutes",
        "stalled_minutes",
        "unconverted_minutes",
        "business_hours_enabled",
    )
    raw_id_fields = ("campaign",)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name")
