"""Webhook endpoints in the JSON API, for managers (SPEC §1; others get a 403): the same
services and checks as the pages (leadflow/webhooks/). A secret appears once, in the
answer that created or rotated it."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ..models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..webhooks import services
from .base import CursorPagination, IsManager


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        help_text=gettext_lazy("The events this endpoint receives."),
    )
    secret_hint = serializers.CharField(
        read_only=True, help_text=gettext_lazy("The secret's first characters.")
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "secret_hint",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "secret_hint", "secret_rotated_at", "created_at", "updated_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=gettext_lazy("The signing secret: shown in this answer only."),
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=DeliveryState.choices, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "created_at",
            "state",
            "attempts",
            "last_attempt_at",
            "last_status",
            "last_error",
            "next_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields


class DeliveryPagination(CursorPagination):
    ordering = ("-created_at", "-id")


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints"),
    retrieve=extend_schema(summary="Get a webhook endpoint"),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description="The answer carries the signing secret, once.",
        responses={201: WebhookEndpointWithSecretSerializer},
    ),
    update=extend_schema(summary="Replace a webhook endpoint's fields"),
    partial_update=extend_schema(summary="Edit a webhook endpoint"),
    destroy=extend_schema(summary="Delete a webhook endpoint and its delivery log"),
    rotate_secret=extend_schema(
        summary="Rotate the signing secret",
        description="A new secret, in this answer only; the old one signs nothing more.",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
    ),
    test=extend_schema(
        summary="Send a test event",
        description="Queues one `webhook.test` event for this endpoint.",
        request=None,
        responses={202: WebhookDeliverySerializer},
    ),
    deliveries=extend_schema(
        summary="The endpoint's delivery log, newest first",
        responses={200: WebhookDeliverySerializer(many=True)},
    ),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Outgoing webhook endpoints (README "Webhooks")."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsManager]
    pagination_class = CursorPagination
    queryset = WebhookEndpoint.objects.order_by("-id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            by=request.user, data=serializer.validated_data
        )
        endpoint.secret = secret
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def perform_update(self, serializer):
        serializer.instance = services.endpoint_update(
            endpoint=serializer.instance, by=self.request.user, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.endpoint_delete(endpoint=instance, by=self.request.user)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint, _secret = services.endpoint_rotate_secret(
            endpoint=self.get_object(), by=request.user
        )
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = services.endpoint_send_test(endpoint=self.get_object(), by=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["get"], pagination_class=DeliveryPagination)
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = self.paginate_queryset(endpoint.deliveries.order_by("-created_at", "-id"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
