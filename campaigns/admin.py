from django.contrib import admin

from .models import Campaign, SpendEntry


class SpendEntryInline(admin.TabularInline):
    """Read-only: spend is recorded on the campaign page, the API or a CSV upload, through
    campaigns/services.py."""

    model = SpendEntry
    fields = ("start", "end", "amount", "note", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "start_date", "end_date", "budget", "owner")
    list_filter = ("channel", "start_date")
    search_fields = ("name", "utm_campaign", "description")
    autocomplete_fields = ("owner",)
    readonly_fields = ("intake_key", "created_at", "updated_at")
    date_hierarchy = "start_date"
    inlines = [SpendEntryInline]
