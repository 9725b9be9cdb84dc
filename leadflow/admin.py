from django.contrib import admin

from .models import Notification, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "is_available", "last_assigned_at")
    list_filter = ("is_available",)
    search_fields = ("user__username", "user__email")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "lead", "created_at", "read_at")
    list_filter = ("kind",)
    raw_id_fields = ("user", "lead", "actor")
    list_select_related = ("user", "lead")
