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

from . import services, spend
from .models import Campaign, Channel, SpendEntry, taken_by_another


class TotalSpendField(serializers.DecimalField):
    """``spend``: reads as the total of the campaign's spend entries; a write *sets the
    total*, replacing the entries by one over the campaign's dates (campaigns.services)."""

    def get_attribute(self, instance):
        total = getattr(instance, "spend_total", None)
        return total if total is not None else spend.lifetime_spend_of(instance)


class CampaignSerializer(serializers.ModelSerializer):
    spend = TotalSpendField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_MONEY,
        required=False,
        help_text=gettext_lazy(
            "Total spend: the sum of the campaign's spend entries. Writing it sets the "
            "total: the entries are replaced by one entry of this amount over the campaign's "
            "dates (start to end, or to today without an end). Record spend over time with "
            "POST /api/v1/campaigns/{id}/spend/."
        ),
    )
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


class SpendEntrySerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), max_value=MAX_MONEY
    )

    class Meta:
        model = SpendEntry
        fields = ["id", "start", "end", "amount", "note", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]
        extra_kwargs = {
            "start": {"help_text": gettext_lazy("First day (site time zone).")},
            "end": {"help_text": gettext_lazy("Last day, inclusive.")},
        }

    def validate(self, data):
        if data["end"] < data["start"]:
            raise ValidationError({"end": [_("The end date cannot be before the start date.")]})
        return data


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns",
        parameters=[OpenApiParameter("channel", str, enum=Channel.values)],
    ),
    retrieve=extend_schema(summary="Get a campaign"),
    create=extend_schema(summary="Create a campaign (the owner defaults to you)"),
    update=extend_schema(summary="Replace a campaign's fields"),
    partial_update=extend_schema(
        summary="Edit a campaign",
        description='`{"spend": X}` sets the total spend: the campaign\'s spend entries '
        "are replaced by one entry of X over the campaign's dates.",
    ),
    spend_entries=extend_schema(
        summary="List or record a campaign's spend entries",
        description="GET lists the entries, newest first. POST records money spent from "
        "`start` to `end` (both inclusive); a period's spend is each entry prorated by day.",
        request=SpendEntrySerializer,
        responses={200: SpendEntrySerializer(many=True), 201: SpendEntrySerializer},
    ),
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
        qs = (
            Campaign.objects.select_related("owner")
            .annotate(spend_total=spend.lifetime_spend())
            .order_by("-id")
        )
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

    @action(detail=True, methods=["get", "post"], url_path="spend", pagination_class=None)
    def spend_entries(self, request, pk=None):
        campaign = self.get_object()
        if request.method == "GET":
            entries = campaign.spend_entries.select_related("created_by")
            return Response(SpendEntrySerializer(entries, many=True).data)
        serializer = SpendEntrySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.spend_entry_add(
            campaign=campaign, by=request.user, **serializer.validated_data
        )
        return Response(SpendEntrySerializer(entry).data, status=201)

    def _save(self, call):
        try:
            return call()
        except IntegrityError:
            # Two requests raced for the same UTM code; the database's constraint decided.
            raise TransitionNotAllowed(
                _("Another campaign was saved with the same values at the same moment.")
            ) from None
