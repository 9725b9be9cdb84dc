"""Campaigns in the JSON API: marketers and managers list, read, create and edit them
(SPEC §1); salespeople get a 403. The intake key is part of the representation because
only those roles ever see one."""

from decimal import Decimal

from django.db import IntegrityError
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from leadflow import roles
from leadflow.api.base import MAX_MONEY, CanMarket, CursorPagination
from leadflow.errors import TransitionNotAllowed
from leadflow.http import origin_of

from . import services
from .models import Campaign, Channel, taken_by_another


class CampaignSerializer(serializers.ModelSerializer):
    owner_username = serializers.CharField(
        source="owner.username", read_only=True, allow_null=True
    )
    intake_key = serializers.SerializerMethodField(
        help_text=gettext_lazy("Secret key of the public intake form (marketers and managers).")
    )
    intake_url = serializers.SerializerMethodField(
        help_text=gettext_lazy("Where the campaign's web forms POST (see README: intake).")
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "start_date",
            "end_date",
            "budget",
            "spend",
            "owner",
            "owner_username",
            "utm_campaign",
            "description",
            "allowed_origin",
            "route_on_intake",
            "intake_key",
            "intake_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "owner_username", "created_at", "updated_at"]
        extra_kwargs = {
            "budget": {"min_value": Decimal(0), "max_value": MAX_MONEY},
            "spend": {"min_value": Decimal(0), "max_value": MAX_MONEY},
            "owner": {"required": False},
        }

    def _may_see_key(self):
        request = self.context.get("request")
        return request is not None and roles.can_market(request.user)

    def get_intake_key(self, campaign) -> str | None:
        return campaign.intake_key if self._may_see_key() else None

    def get_intake_url(self, campaign) -> str | None:
        if not self._may_see_key():
            return None
        return self.context["request"].build_absolute_uri(
            reverse("intake", args=[campaign.intake_key])
        )

    def validate_name(self, name):
        if taken_by_another("name", name, self.instance):
            raise ValidationError(_("A campaign with this name already exists."))
        return name

    def validate_owner(self, owner):
        if owner is not None and not roles.can_market(owner):
            raise ValidationError(_("The owner must be a marketer or a manager."))
        return owner

    def validate_allowed_origin(self, value):
        # The intake compares scheme, host and port: that is what is kept.
        if not value:
            return value
        origin = origin_of(value, bare=False)
        if origin is None:
            raise ValidationError(_("Give the site's address, like https://www.example.com."))
        return origin


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns",
        parameters=[OpenApiParameter("channel", str, enum=Channel.values)],
    ),
    retrieve=extend_schema(summary="Get a campaign"),
    create=extend_schema(summary="Create a campaign (the owner defaults to you)"),
    update=extend_schema(summary="Replace a campaign's fields"),
    partial_update=extend_schema(summary="Edit a campaign (e.g. record spend)"),
    rotate_key=extend_schema(
        summary="Rotate the intake key",
        description="A new secret intake key; forms using the old one get a 404 at once.",
        request=None,
        responses={200: CampaignSerializer},
    ),
)
class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns, for marketers and managers (salespeople get a 403). The intake key is
    read-only; rotate it with rotate-key."""

    serializer_class = CampaignSerializer
    permission_classes = [CanMarket]
    pagination_class = CursorPagination

    def get_queryset(self):
        qs = Campaign.objects.select_related("owner").order_by("-id")
        if self.action == "list":
            channel = self.request.query_params.get("channel")
            if channel:
                if channel not in Channel.values:
                    raise ValidationError({"channel": [_("Choose a valid channel.")]})
                qs = qs.filter(channel=channel)
        return qs

    # Writes go through the campaign services the pages use (their checks: role, end after
    # start, money not negative, UTM code unique); the serializer only parses the body.

    def perform_create(self, serializer):
        serializer.instance = self._save(
            lambda: services.campaign_create(by=self.request.user, data=serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = self._save(
            lambda: services.campaign_update(
                campaign=serializer.instance,
                by=self.request.user,
                data=serializer.validated_data,
            )
        )

    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        campaign = services.campaign_rotate_key(campaign=self.get_object(), by=request.user)
        return Response(self.get_serializer(campaign).data)

    def _save(self, call):
        try:
            return call()
        except IntegrityError:
            # Two requests raced for the same UTM code; the database's constraint decided.
            raise TransitionNotAllowed(
                _("Another campaign was saved with the same values at the same moment.")
            ) from None
