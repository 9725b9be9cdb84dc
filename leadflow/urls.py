from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from health_check import Cache

from campaigns.intake import intake
from leads import notification_views as bell
from leads.reporting import views as reporting
from leads.sweep.health import RecentSweep

from . import views
from .health import BeatTick, CeleryBroker, Database, HealthView, OutboxBacklog

# Public, no login (README "Health"): 200 when every check passes, else 500; JSON with
# ?format=json or Accept: application/json. /health/beat/ is beat's container check.
HEALTH_CHECKS = [Database, Cache, CeleryBroker, BeatTick, RecentSweep, OutboxBacklog]

# Unhandled exceptions: JSON on the API and the intake, 503 when the database is down.
handler500 = views.server_error

urlpatterns = [
    path("health/", HealthView.as_view(checks=HEALTH_CHECKS), name="health"),
    path("health/beat/", HealthView.as_view(checks=[BeatTick]), name="health_beat"),
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path(
        "accounts/profile/notifications/",
        views.notification_settings,
        name="notification_settings",
    ),
    path(
        "accounts/profile/tokens/<int:pk>/revoke/",
        views.api_token_revoke,
        name="api_token_revoke",
    ),
    path("dashboard/", reporting.dashboard, name="dashboard"),
    path("dashboard/<slug:table>.csv", reporting.dashboard_csv, name="dashboard_csv"),
    # /api/v1/funnel/ is routed in leadflow/api/urls.py, with the API's token authentication.
    path("api/v1/", include("leadflow.api.urls")),
    path("intake/<str:key>/", intake, name="intake"),
    path("campaigns/", include("campaigns.urls")),
    path("leads/", include("leads.urls")),
    path("sales/", include("sales.urls")),
    path("notifications/", bell.notifications, name="notifications"),
    path("notifications/read/", bell.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", bell.notification_open, name="notification_open"),
    path("sla/", include("leads.sla.urls")),
    # Django's set_language, wrapped to keep a logged-in user's choice on their profile.
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
]
