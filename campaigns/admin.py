from django.contrib import admin

from .models import Campaign


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "start_date", "end_date", "budget", "spend", "owner")
    list_filter = ("channel", "start_date")
    search_fields = ("name", "utm_campaign", "description")
    autocomplete_fields = ("owner",)
    readonly_fields = ("intake_key", "created_at", "updated_at")
    date_hierarchy = "start_date"
