"""Teams and assignment rules in the JSON API: /api/v1/teams/ (read: every role; write:
managers) and /api/v1/assignment-rules/ (managers), with the preview of the rules page.
Writes go through sales.routing.services, so the pages' checks apply; the serializers
only parse the body."""

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.api.base import CursorPagination, validated
from leadflow.api.defaults import HasRole
from leads.models import InquiryType, Lead, Origin

from ..models import AssignmentRule, Team
from . import engine, services

User = get_user_model()


class ManagersWrite(HasRole):
    """Every role reads; only managers change (SPEC §1: teams are the managers')."""

    message = gettext_lazy("Only managers can change teams.")

    def has_permission(self, request, view):
        return super().has_permission(request, view) and (
            request.method in SAFE_METHODS or roles.is_manager(request.user)
        )


class ManagersOnly(HasRole):
    message = gettext_lazy("Only managers can see and change assignment rules.")

    def has_permission(self, request, view):
        return super().has_permission(request, view) and roles.is_manager(request.user)


# --- teams -------------------------------------------------------------------------------


class MemberSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    username = serializers.CharField(source="user.username", read_only=True)
    weight = serializers.IntegerField(min_value=1, max_value=services.MAX_WEIGHT, default=1)


class TeamSerializer(serializers.ModelSerializer):
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        help_text=gettext_lazy("User id of the team lead: an active manager."),
    )
    lead_username = serializers.CharField(source="lead.username", read_only=True, allow_null=True)
    members = MemberSerializer(
        source="memberships",
        many=True,
        required=False,
        help_text=gettext_lazy(
            "The reps in the team with their round-robin weight (1–100, default 1); a PUT "
            "or a PATCH with members replaces the list."
        ),
    )

    class Meta:
        model = Team
        fields = ["id", "name", "lead", "lead_username", "members", "created_at"]
        read_only_fields = ["id", "lead_username", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="List teams"),
    retrieve=extend_schema(summary="Get a team"),
    create=extend_schema(summary="Create a team (managers)"),
    update=extend_schema(summary="Replace a team (managers)"),
    partial_update=extend_schema(summary="Edit a team (managers)"),
    destroy=extend_schema(summary="Delete a team no rule targets (managers)"),
)
class TeamViewSet(viewsets.ModelViewSet):
    """Sales teams: a name, a team lead and weighted members."""

    serializer_class = TeamSerializer
    permission_classes = [ManagersWrite]
    pagination_class = CursorPagination

    def get_queryset(self):
        return (
            Team.objects.select_related("lead")
            .prefetch_related("memberships__user")
            .order_by("-id")
        )

    def _save(self, serializer, team=None):
        data = serializer.validated_data
        members = data.get("memberships")
        if members is None:
            members = [] if team is None else [(m.user, m.weight) for m in team.memberships.all()]
        else:
            members = [(m["user"], m.get("weight", 1)) for m in members]
        serializer.instance = services.team_save(
            by=self.request.user,
            team=team,
            name=data.get("name", team.name if team else ""),
            lead=data.get("lead", team.lead if team else None),
            members=members,
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance):
        services.team_delete(by=self.request.user, team=instance)


# --- rules -------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    position = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=gettext_lazy("1 is tried first; a new rule without one goes last."),
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), allow_null=True, required=False
    )
    target_user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, required=False
    )
    target_team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), allow_null=True, required=False
    )
    channel = serializers.ChoiceField(choices=Channel.choices, allow_blank=True, required=False)
    inquiry_type = serializers.ChoiceField(
        choices=InquiryType.choices, allow_blank=True, required=False
    )
    origin = serializers.ChoiceField(choices=Origin.choices, allow_blank=True, required=False)
    countries = serializers.CharField(
        max_length=300,
        allow_blank=True,
        required=False,
        help_text=gettext_lazy("Comma-separated, compared without case; empty: any."),
    )
    min_score = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False
    )
    max_score = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False
    )

    class Meta:
        model = AssignmentRule
        fields = ["id", "position", *services.RULE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class PreviewSerializer(serializers.Serializer):
    lead = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(), required=False, allow_null=True
    )
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    inquiry_type = serializers.ChoiceField(
        choices=InquiryType.choices, required=False, allow_blank=True
    )
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    score = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    origin = serializers.ChoiceField(choices=Origin.choices, required=False, allow_blank=True)


class SkipSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    reason = serializers.ChoiceField(choices=list(engine.REASONS))
    open_leads = serializers.IntegerField(allow_null=True)
    max_open_leads = serializers.IntegerField(source="capacity", allow_null=True)


class PreviewResultSerializer(serializers.Serializer):
    rule = serializers.IntegerField(source="rule.pk", allow_null=True, default=None)
    rule_name = serializers.CharField(source="rule.name", allow_null=True, default=None)
    rep = serializers.IntegerField(source="rep.pk", allow_null=True, default=None)
    rep_username = serializers.CharField(source="rep.username", allow_null=True, default=None)
    team = serializers.IntegerField(source="team.pk", allow_null=True, default=None)
    team_name = serializers.CharField(source="team.name", allow_null=True, default=None)
    fallback = serializers.ChoiceField(
        choices=["", engine.TEAM_QUEUE, engine.QUEUE, engine.NO_RULE],
        help_text=gettext_lazy(
            "Empty when a rep gets it; team_queue: nobody in the team was eligible; queue: "
            "the rule targets the unassigned queue or its rep was not eligible; no_rule."
        ),
    )
    skipped = SkipSerializer(many=True)
    explanation = serializers.CharField(source="describe")


class RulePagination(CursorPagination):
    ordering = ("position", "id")


@extend_schema_view(
    list=extend_schema(summary="List assignment rules in the order they are tried"),
    retrieve=extend_schema(summary="Get an assignment rule"),
    create=extend_schema(summary="Create an assignment rule"),
    update=extend_schema(summary="Replace an assignment rule"),
    partial_update=extend_schema(summary="Edit or move an assignment rule"),
    destroy=extend_schema(summary="Delete an assignment rule"),
)
class AssignmentRuleViewSet(viewsets.ModelViewSet):
    """Assignment rules (managers): tried by position, the first that matches wins."""

    serializer_class = RuleSerializer
    permission_classes = [ManagersOnly]
    pagination_class = RulePagination

    def get_queryset(self):
        return AssignmentRule.objects.order_by("position", "id")

    def _save(self, serializer, rule=None):
        data = dict(serializer.validated_data)
        position = data.pop("position", None)
        serializer.instance = services.rule_save(
            by=self.request.user, rule=rule, data=data, position=position
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance):
        services.rule_delete(by=self.request.user, rule=instance)

    @extend_schema(
        summary="Try a lead on the rules (nothing is assigned)",
        description=(
            "Which rule and which rep a lead would get now, and why each rep passed over "
            "was skipped: an existing lead by `lead`, or a made-up one from the other "
            "fields (a campaign's channel is taken from the campaign)."
        ),
        request=PreviewSerializer,
        responses={200: PreviewResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        data = validated(PreviewSerializer, request)
        if data.get("lead"):
            lead = Lead.objects.for_user(request.user).select_related("campaign")
            lead = lead.filter(pk=data["lead"]).first()
            if lead is None:
                raise serializers.ValidationError({"lead": [_("No lead has this number.")]})
            facts = engine.Facts.of(lead)
        else:
            campaign = data.get("campaign")
            facts = engine.Facts(
                campaign_id=campaign.pk if campaign else None,
                channel=campaign.channel if campaign else data.get("channel", ""),
                inquiry_type=data.get("inquiry_type") or InquiryType.WEB_FORM,
                country=data.get("country", ""),
                score=data.get("score"),
                origin=data.get("origin") or Origin.MARKETING,
            )
        decision = engine.route(facts, at=timezone.now(), commit=False)
        return Response(PreviewResultSerializer(decision).data)
