from django.contrib.admin.apps import AdminConfig


class LeadflowAdminConfig(AdminConfig):
    """django.contrib.admin with LeadFlow's site, whose login is throttled like the site's
    (leadflow/admin_site.py). In its own module: leadflow.apps may hold one AppConfig."""

    default_site = "leadflow.admin_site.LeadflowAdminSite"
