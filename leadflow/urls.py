from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from leads import dashboard_views

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/<slug:table>.csv", dashboard_views.dashboard_csv, name="dashboard_csv"),
    path("api/v1/funnel/", dashboard_views.funnel_api, name="funnel_api"),
    path("campaigns/", include("campaigns.urls")),
    path("leads/", include("leads.urls")),
    path("sales/", include("sales.urls")),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
    path("sla/", include("leads.sla_urls")),
    path("admin/", admin.site.urls),
]
