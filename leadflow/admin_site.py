from django.contrib import admin

from .throttle import AdminLoginForm, too_many_attempts


class LeadflowAdminSite(admin.AdminSite):
    """The Django admin, with its login throttled like the site's (leadflow/throttle.py)."""

    login_form = AdminLoginForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        return too_many_attempts(response, form)
