"""Campaigns in the JSON API: marketers and managers list, read, create and edit them
(SPEC §1); salespeople get a 403. The intake key is part of the representation because
only those roles ever see one."""

import copy
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from leadflow import roles
from leadflow.api import MAX_MONEY, CanMarket, CursorPagination
from leads.lifecycle import TransitionNotAllowed

from .intake import origin_of
from .models import Campaign, Channel


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

    def validate_owner(self, owner):
        if owner is not None and not roles.can_market(owner):
            raise ValidationError(_("The owner must be a marketer or a manager."))
        return owner

    def validate_allowed_origin(self, value):
        if value and origin_of(value) is None:
            raise ValidationError(_("Give only the site's address, like https://www.example.com."))
        return value

    def validate(self, data):
        # The model's constraints (case-insensitive UTM code, end after start, money not
        # negative) checked up front, so a bad value is a 400 and not a database error.
        instance = copy.copy(self.instance) if self.instance is not None else Campaign()
        for name, value in data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean(exclude=["intake_key", "owner"])
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return data


@extend_schema_view(
    list=extend_schema(
        summary="List campaigns",
        parameters=[OpenApiParameter("channel", str, enum=Channel.values)],
    ),
    retrieve=extend_schema(summary="Get a campaign"),
    create=extend_schema(summary="Create a campaign"),
    update=extend_schema(summary="Replace a campaign's fields"),
    partial_update=extend_schema(summary="Edit a campaign (e.g. record spend)"),
)
class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Campaigns, for marketers and managers (salespeople get a 403). Only the campaign's
    own fields are written here; the intake key is read-only."""

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

    def perform_create(self, serializer):
        owner = serializer.validated_data.get("owner", self.request.user)
        self._save(serializer, owner=owner)

    def perform_update(self, serializer):
        self._save(serializer)

    def _save(self, serializer, **kwargs):
        try:
            with transaction.atomic():
                serializer.save(**kwargs)
        except IntegrityError:
            # Two requests raced for the same UTM code; the second loses here.
            raise TransitionNotAllowed(
                _("Another campaign was saved with the same values at the same moment.")
            ) from None
