"""/api/v1/: the JSON API (README "JSON API"), its OpenAPI schema and interactive docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from campaigns.api import CampaignViewSet
from leads.api import AttributionView, BulkJobViewSet, FunnelView, LeadViewSet, SavedViewViewSet
from sales.api import DisputeViewSet, ForecastView, TaskViewSet, UserViewSet
from sales.routing.api import AssignmentRuleViewSet, TeamViewSet

from .base import api_not_found
from .webhooks import WebhookEndpointViewSet


class Router(DefaultRouter):
    # Both /leads/1/accept and /leads/1/accept/ work: a POST to the unslashed form would
    # otherwise hit APPEND_SLASH, which cannot redirect a POST.
    include_root_view = False
    # The API speaks JSON only; the ".json"-suffixed twins of every route answered 500
    # (the views take no ``format`` argument) and no client needs them.
    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = Router()
router.register("leads", LeadViewSet, basename="lead")
router.register("bulk-jobs", BulkJobViewSet, basename="bulk-job")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("saved-views", SavedViewViewSet, basename="saved-view")
router.register("disputes", DisputeViewSet, basename="dispute")
router.register("tasks", TaskViewSet, basename="task")
router.register("users", UserViewSet, basename="user")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("teams", TeamViewSet, basename="team")
router.register("assignment-rules", AssignmentRuleViewSet, basename="assignment-rule")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # The dashboard's numbers (SPEC §6), computed by leads.reporting.views.funnel_api.
    path("funnel/", FunnelView.as_view(), name="funnel"),
    path("attribution/", AttributionView.as_view(), name="attribution"),
    # The pipeline forecast (SPEC §3), computed by sales.pipeline.forecast.
    path("forecast/", ForecastView.as_view(), name="forecast"),
    *router.urls,
    re_path(r"^.*$", api_not_found),
]
