from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from campaigns.intake import intake

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path(
        "accounts/profile/tokens/<int:pk>/revoke/",
        views.api_token_revoke,
        name="api_token_revoke",
    ),
    path("api/v1/", include("leadflow.api_urls")),
    path("intake/<str:key>/", intake, name="intake"),
    path("campaigns/", include("campaigns.urls")),
    path("leads/", include("leads.urls")),
    path("sales/", include("sales.urls")),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/", views.notification_open, name="notification_open"),
    path("admin/", admin.site.urls),
]
