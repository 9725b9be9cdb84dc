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
from .webhooks import views as webhooks

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
    # Django's password pages (templates/registration/), the reset throttled and its mail
    # sent through the outbox; the change counts wrong old passwords as failed logins.
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/password-change/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password-change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/invitation/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("accounts/profile/channels/", webhooks.my_channels, name="profile_channels"),
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
    path("dashboard/joint-sla/", reporting.joint_sla_page, name="joint_sla"),
    path("dashboard/joint-sla/target/", reporting.joint_sla_target, name="joint_sla_target"),
    path("dashboard/joint-sla/terms/", reporting.joint_sla_terms, name="joint_sla_terms"),
    path("dashboard/joint-sla/scorecard.csv", reporting.joint_sla_csv, name="joint_sla_csv"),
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
    path("webhooks/", include("leadflow.webhooks.urls")),
    # Django's set_language, wrapped to keep a logged-in user's choice on their profile.
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
]
