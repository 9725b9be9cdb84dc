"""Sales' court in the JSON API: claim, accept, reject, follow-ups, snooze, opportunity, won,
lost, the rep's tasks, and the manager's reopen, reassign and dispute rulings. Every action
calls the service the pages call; the service decides who may (403) and from which stage
(409)."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from leadflow import roles
from leadflow.api.base import (
    ERROR_DESCRIPTIONS,
    MAX_MONEY,
    CanWorkSales,
    CursorPagination,
    DateTimeField,
    ErrorSerializer,
    api_url,
    choice,
    user_by_id,
    validated,
)
from leadflow.dates import validate_day
from leads.models import Lead, LostReason, RejectionReason

from . import services
from .forms import ForecastForm, SnoozeForm
from .models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    Dispute,
    DisputeRuling,
    ObjectionTag,
    Task,
    TaskKind,
    TeamMembership,
)
from .pipeline import forecast, pipeline_owners

# --- representation ----------------------------------------------------------------------


class ActivitySerializer(serializers.ModelSerializer):
    user_username = serializers.CharField(source="user.username", read_only=True)
    is_contact = serializers.BooleanField(read_only=True)
    outcome = choice(ActivityOutcome.choices)
    objections = serializers.SerializerMethodField()
    counts_at = serializers.DateTimeField(
        read_only=True,
        help_text=gettext_lazy(
            "When SLAs and the dashboard count it: occurred_at, or logged_at if logged late."
        ),
    )

    class Meta:
        model = Activity
        fields = [
            "id",
            "lead",
            "user",
            "user_username",
            "kind",
            "outcome",
            "objections",
            "notes",
            "occurred_at",
            "next_follow_up_at",
            "is_contact",
            "created_at",
            "logged_at",
            "logged_late",
            "counts_at",
            "corrects",
        ]
        read_only_fields = fields

    def get_objections(self, activity) -> list[str]:
        return [o.tag for o in activity.objections.all()]


class DisputeSerializer(serializers.ModelSerializer):
    raised_by_username = serializers.CharField(source="raised_by.username", read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    ruling = choice(DisputeRuling.choices)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "lead",
            "handoff",
            "raised_by",
            "raised_by_username",
            "comment",
            "raised_at",
            "is_open",
            "ruling",
            "ruled_by",
            "ruled_at",
            "ruling_note",
        ]
        read_only_fields = fields


# --- input -----------------------------------------------------------------------------


def _note():
    return serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def _money(**kwargs):
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal(0), max_value=MAX_MONEY, **kwargs
    )


class AcceptSerializer(serializers.Serializer):
    note = _note()


class RejectSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=RejectionReason.choices)
    note = _note()


class ActivityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=ActivityKind.choices,
        help_text=gettext_lazy("A call, email or meeting is contact; a note never moves a stage."),
    )
    outcome = serializers.ChoiceField(
        choices=ActivityOutcome.choices, required=False, allow_blank=True, default=""
    )
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    occurred_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy(
            "Default: now. Never in the future nor before the lead was created; logged more "
            "than the policy's grace after it, the activity counts at logged_at."
        ),
    )
    next_follow_up_at = DateTimeField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy(
            "Schedules the next follow-up (at most two years ahead); null clears it. Left "
            "out, the lead's scheduled follow-up stays if it is still ahead of this activity."
        ),
    )
    objections = serializers.ListField(
        child=serializers.ChoiceField(choices=ObjectionTag.choices),
        required=False,
        default=list,
        max_length=len(ObjectionTag.choices),
    )
    corrects = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text=gettext_lazy(
            "The id of an activity of this lead that this one corrects (activities are "
            "never edited or deleted)."
        ),
    )


class OpportunitySerializer(serializers.Serializer):
    value = _money(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Estimated deal value (optional)."),
    )
    expected_close_on = serializers.DateField(
        required=False, allow_null=True, help_text=gettext_lazy("Expected close date (optional).")
    )
    probability = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Probability in percent, 0–100 (default: the stage's)."),
    )
    note = _note()


class WonSerializer(serializers.Serializer):
    value = _money(help_text=gettext_lazy("Deal value, above zero."))
    note = _note()


class LostSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=LostReason.choices)
    note = _note()


class ReassignSerializer(serializers.Serializer):
    to_user = serializers.IntegerField(
        min_value=1, help_text=gettext_lazy("User id of the new salesperson.")
    )
    note = _note()


class DisputeRuleSerializer(serializers.Serializer):
    ruling = serializers.ChoiceField(choices=DisputeRuling.choices)
    to_user = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text=gettext_lazy("Overturned: user id of the salesperson who gets the lead."),
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SnoozeSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(
        choices=list(SnoozeForm.quick_snoozes()),
        required=False,
        help_text=gettext_lazy(
            "1h: in an hour; tomorrow: tomorrow 9:00; monday: next Monday 9:00 (a week on "
            "when today is Monday), in the site's time zone. Give this or until."
        ),
    )
    until = DateTimeField(
        required=False,
        help_text=gettext_lazy(
            "The moment to snooze to: in the future, at most two years ahead. Give this or preset."
        ),
    )
    reason = serializers.CharField(max_length=300, help_text=gettext_lazy("Why it is put off."))

    def validate(self, data):
        if ("preset" in data) == ("until" in data):
            raise ValidationError(_("Give either a preset or until."))
        if "preset" in data:
            data["until"] = SnoozeForm.quick_snoozes()[data.pop("preset")]
        return data


class SalesLeadActions:
    """Sales' actions on /api/v1/leads/{id}/…; mixed into leads.api.LeadViewSet, which
    provides the scoped ``get_object``, ``lead_response`` and the response schema (its
    LeadSerializer)."""

    def acted_on(self):
        """The lead of a sales action, through the scoped ``get_object``: out of the user's
        scope when the request reads it, it is a 404 whatever its history (who claimed it,
        whether it was once theirs), so an action says nothing of another rep's lead, as
        the pages do. A race is lost only by a user who could act on the copy read here:
        the service locks the lead, keeps that copy as ``as_seen`` and answers someone
        else's commit meanwhile with a 409 (lifecycle.someone_else_acted)."""
        return self.get_object()

    @extend_schema(
        summary="Claim a lead from the unassigned queue",
        request=None,
    )
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        lead = self.acted_on()
        return self.lead_response(services.lead_claim(lead=lead, by=request.user))

    @extend_schema(
        summary="Accept a handed-off lead",
        request=AcceptSerializer,
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        lead = self.acted_on()
        data = validated(AcceptSerializer, request)
        return self.lead_response(services.lead_accept(lead=lead, by=request.user, **data))

    @extend_schema(
        summary="Reject a lead back to marketing (reason required)",
        request=RejectSerializer,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        lead = self.acted_on()
        data = validated(RejectSerializer, request)
        return self.lead_response(services.lead_reject(lead=lead, by=request.user, **data))

    @extend_schema(
        methods=["GET"],
        summary="A lead's follow-ups, newest first",
        request=None,
        responses={200: ActivitySerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Log a follow-up (call, email, meeting or note)",
        request=ActivityCreateSerializer,
        responses={201: ActivitySerializer},
    )
    @action(detail=True, methods=["get", "post"])
    def activities(self, request, pk=None):
        if request.method == "GET":
            lead = self.get_object()
            activities = (
                Activity.objects.filter(lead=lead)
                .select_related("user")
                .prefetch_related("objections")
                .order_by("-occurred_at", "-id")
            )
            return Response(ActivitySerializer(activities, many=True).data)
        lead = self.acted_on()
        data = validated(ActivityCreateSerializer, request)
        activity = services.activity_log(lead=lead, by=request.user, **data)
        activity = (
            Activity.objects.select_related("user")
            .prefetch_related("objections")
            .get(pk=activity.pk)
        )
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Snooze the lead's follow-up (a preset or a moment, with a reason)",
        description=(
            "Puts off the lead's scheduled follow-up; the snooze is on the lead's timeline. "
            "Its rep or a manager, on an open lead with sales that has a follow-up. Answers "
            "with the lead: `next_follow_up_at` is the new moment."
        ),
        request=SnoozeSerializer,
    )
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        lead = self.acted_on()
        data = validated(SnoozeSerializer, request)
        services.follow_up_snooze(
            lead=lead, by=request.user, until=data["until"], reason=data["reason"]
        )
        return self.lead_response(lead)

    @extend_schema(
        summary="Make an opportunity of a contacted lead",
        request=OpportunitySerializer,
    )
    @action(detail=True, methods=["post"])
    def opportunity(self, request, pk=None):
        lead = self.acted_on()
        data = validated(OpportunitySerializer, request)
        return self.lead_response(
            services.lead_to_opportunity(
                lead=lead,
                by=request.user,
                value=data.get("value"),
                expected_close_on=data.get("expected_close_on"),
                probability=data.get("probability"),
                note=data["note"],
            )
        )

    @extend_schema(
        summary="Mark a lead won (deal value > 0), from opportunity or contacted in one step",
        request=WonSerializer,
    )
    @action(detail=True, methods=["post"])
    def won(self, request, pk=None):
        lead = self.acted_on()
        data = validated(WonSerializer, request)
        return self.lead_response(services.lead_win(lead=lead, by=request.user, **data))

    @extend_schema(
        summary="Mark a lead lost (reason required)",
        request=LostSerializer,
    )
    @action(detail=True, methods=["post"])
    def lost(self, request, pk=None):
        lead = self.acted_on()
        data = validated(LostSerializer, request)
        return self.lead_response(services.lead_lose(lead=lead, by=request.user, **data))

    @extend_schema(
        summary="Reopen a won or lost lead (managers)",
        request=AcceptSerializer,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        lead = self.get_object()
        data = validated(AcceptSerializer, request)
        return self.lead_response(services.lead_reopen(lead=lead, by=request.user, **data))

    @extend_schema(
        summary="Reassign a lead with sales to another rep (managers)",
        request=ReassignSerializer,
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        lead = self.get_object()
        data = validated(ReassignSerializer, request)
        return self.lead_response(
            services.lead_reassign(
                lead=lead, by=request.user, to_user=user_by_id(data["to_user"]), note=data["note"]
            )
        )


class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Disputed rejections of leads in your scope; managers rule on them."""

    serializer_class = DisputeSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        qs = Dispute.objects.filter(
            lead__in=Lead.objects.for_user(self.request.user).values("pk")
        ).select_related("raised_by")
        if self.action == "list":
            flag = self.request.query_params.get("open", "").lower()
            if flag in ("true", "1"):
                qs = qs.filter(ruled_at__isnull=True)
            elif flag in ("false", "0"):
                qs = qs.filter(ruled_at__isnull=False)
            elif flag:
                raise ValidationError({"open": [_("Use true or false.")]})
        return qs.order_by("-raised_at", "-id")

    @extend_schema(
        summary="List disputes",
        parameters=[
            OpenApiParameter(
                "open", bool, description=gettext_lazy("true: only disputes awaiting a ruling.")
            )
        ],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(summary="Get a dispute")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Rule on a disputed rejection (managers)",
        description="Upheld: the lead stays rejected. Overturned: handed to `to_user`.",
        request=DisputeRuleSerializer,
        responses={200: DisputeSerializer},
    )
    @action(detail=True, methods=["post"])
    def rule(self, request, pk=None):
        dispute = self.get_object()
        data = validated(DisputeRuleSerializer, request)
        dispute = services.dispute_rule(
            dispute=dispute,
            by=request.user,
            ruling=data["ruling"],
            to_user=user_by_id(data.get("to_user")),
            note=data["note"],
        )
        return Response(self.get_serializer(Dispute.objects.get(pk=dispute.pk)).data)


# --- tasks -------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    lead_name = serializers.CharField(source="lead.full_name", read_only=True)
    user_username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Task
        fields = [
            "id",
            "url",
            "lead",
            "lead_name",
            "user",
            "user_username",
            "kind",
            "title",
            "due_at",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_url(self, task) -> str:
        return api_url(self.context.get("request"), "api:task-detail", task.pk)


class TaskPageSerializer(serializers.Serializer):
    is_page = True

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TaskSerializer(many=True)


class TaskCreateSerializer(serializers.Serializer):
    lead = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy(
            "The lead's id: your own open lead (a manager: any open lead). A lead outside "
            "your scope is a 404."
        ),
    )
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    title = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("Default: the kind's name."),
    )
    due_at = DateTimeField(
        help_text=gettext_lazy(
            "When it is due, at most two years ahead (a moment already past makes it overdue)."
        )
    )


class TaskFilterSerializer(serializers.Serializer):
    lead = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    # validate_day: a moment near year 1 or 9999 is out of the database's reach in UTC.
    due_before = DateTimeField(
        required=False,
        input_formats=["iso-8601", "%Y-%m-%d"],
        validators=[lambda moment: validate_day(moment.date())],
        help_text=gettext_lazy("A moment, or a date for its midnight (site time zone)."),
    )


class TaskPagination(CursorPagination):
    ordering = ("due_at", "id")


class TaskViewSet(viewsets.GenericViewSet):
    """A salesperson's tasks on their leads (README "The rep's day"): the list is your own
    open tasks by due time; a task is yours to open and complete (a manager: anyone's, as
    on the pages). Adding one calls the page's service, with its checks."""

    serializer_class = TaskSerializer
    pagination_class = TaskPagination
    permission_classes = [CanWorkSales]
    queryset = Task.objects.none()  # the schema's; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Task.objects.for_user(self.request.user).select_related("lead", "user")

    def task_response(self, task, status_code=status.HTTP_200_OK, **kwargs):
        task = Task.objects.select_related("lead", "user").get(pk=task.pk)
        return Response(self.get_serializer(task).data, status=status_code, **kwargs)

    @extend_schema(
        summary="List your open tasks, by due time",
        parameters=[
            OpenApiParameter("lead", int, description=gettext_lazy("Only this lead's tasks.")),
            OpenApiParameter(
                "due_before",
                str,
                description=gettext_lazy(
                    "Only tasks due before this moment (or the midnight that starts this "
                    "date, in the site's time zone)."
                ),
            ),
            OpenApiParameter(
                "cursor", str, description=gettext_lazy("Opaque cursor from `next` or `previous`.")
            ),
            OpenApiParameter(
                "page_size",
                int,
                description=gettext_lazy("Tasks per page, 1 to %(max)s (default %(default)s).")
                % {"max": TaskPagination.max_page_size, "default": TaskPagination.page_size},
            ),
        ],
        responses={200: TaskPageSerializer},
    )
    def list(self, request):
        params = TaskFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = params.validated_data
        qs = self.get_queryset().filter(user=request.user).open()
        if "lead" in filters:
            qs = qs.filter(lead_id=filters["lead"])
        if "due_before" in filters:
            qs = qs.filter(due_at__lt=filters["due_before"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(summary="Get a task", responses={200: TaskSerializer})
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Add a task on a lead",
        description=(
            "A call back, a quote to send or something else, due at a moment; it shows in "
            "your Today and your calendar feed. On your own open lead (a manager: any open "
            "lead)."
        ),
        request=TaskCreateSerializer,
        responses={
            201: TaskSerializer,
            404: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS["404"]),
        },
    )
    def create(self, request):
        data = validated(TaskCreateSerializer, request)
        # The lead as the pages fetch it: one outside the user's scope is a 404.
        lead = get_object_or_404(Lead.objects.for_user(request.user), pk=data["lead"])
        task = services.task_add(
            lead=lead,
            by=request.user,
            kind=data["kind"],
            title=data["title"],
            due_at=data["due_at"],
        )
        location = api_url(request, "api:task-detail", task.pk)
        return self.task_response(task, status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(summary="Mark a task done", request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        task = self.get_object()
        return self.task_response(services.task_complete(task=task, by=request.user))


# --- users -------------------------------------------------------------------------------


def team_names_of(users):
    """``{user id: [team name, ...]}`` (A–Z) for ``users``: the sales teams each belongs to,
    for the users endpoint, in one query for the whole page."""
    out = {}
    for user_id, name in (
        TeamMembership.objects.filter(user__in=users)
        .order_by("team__name")
        .values_list("user_id", "team__name")
    ):
        out.setdefault(user_id, []).append(name)
    return out


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    full_name = serializers.CharField(
        source="get_full_name", read_only=True, help_text=gettext_lazy("Empty when not set.")
    )
    role = serializers.ChoiceField(
        choices=list(roles.ROLE_GROUPS),
        read_only=True,
        allow_null=True,
        help_text=gettext_lazy(
            "The user's main role: manager over marketing over sales; null without a role."
        ),
    )
    available = serializers.BooleanField(
        read_only=True,
        help_text=gettext_lazy("Takes new leads (round-robin skips an unavailable rep)."),
    )
    teams = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text=gettext_lazy("Team names.")
    )


class UserViewSet(viewsets.GenericViewSet):
    """The active users, to find a ``to_user`` id for a hand-off or reassignment. Readable
    by every role; managers edit users on the pages."""

    serializer_class = UserSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        qs = (
            get_user_model()
            .objects.filter(is_active=True)
            .select_related("profile")
            .prefetch_related(
                Prefetch(
                    "groups",
                    queryset=Group.objects.filter(name__in=roles.ALL_ROLES),
                    to_attr="role_groups",
                )
            )
        )
        params = self.request.query_params
        role = params.get("role", "")
        if role:
            if role not in roles.ROLE_GROUPS:
                raise ValidationError({"role": [_("Use marketing, sales or manager.")]})
            qs = qs.filter(groups__name=roles.ROLE_GROUPS[role]).distinct()
        available = params.get("available", "").lower()
        if available in ("true", "1"):
            qs = qs.exclude(profile__is_available=False)
        elif available in ("false", "0"):
            qs = qs.filter(profile__is_available=False)
        elif available:
            raise ValidationError({"available": [_("Use true or false.")]})
        return qs

    @extend_schema(
        summary="List users",
        description=(
            "Active users with their role, availability and teams: the ids a hand-off's or a"
            " reassignment's `to_user` takes."
        ),
        parameters=[
            OpenApiParameter(
                "role",
                str,
                enum=list(roles.ROLE_GROUPS),
                description=gettext_lazy("Only users who hold this role."),
            ),
            OpenApiParameter(
                "available",
                bool,
                description=gettext_lazy(
                    "true: only users who take new leads; false: only the others."
                ),
            ),
        ],
        responses={200: UserSerializer(many=True)},
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        teams = team_names_of(page)
        for user in page:
            # roles.role_names reads this cache instead of a query per user.
            user._leadflow_roles = frozenset(g.name for g in user.role_groups)
            user.role = roles.role_key(user)
            profile = getattr(user, "profile", None)
            user.available = profile.is_available if profile is not None else True
            user.teams = teams.get(user.pk, [])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# --- the forecast (SPEC §3) ----------------------------------------------------------------


def _money_field(help_text):
    return serializers.DecimalField(
        max_digits=16, decimal_places=2, coerce_to_string=True, help_text=help_text
    )


class ForecastBucketSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=gettext_lazy("Open opportunities."))
    value = _money_field(gettext_lazy("Their value, a decimal string."))
    weighted = _money_field(gettext_lazy("Their value weighted by probability."))


class ForecastMonthSerializer(ForecastBucketSerializer):
    month = serializers.CharField(help_text=gettext_lazy("YYYY-MM"))
    count = serializers.IntegerField(
        help_text=gettext_lazy(
            "Open opportunities expected to close in the month whose close date has not "
            "passed (this month: from today on)."
        )
    )
    won = serializers.IntegerField(help_text=gettext_lazy("Deals won in the month."))
    won_value = _money_field(gettext_lazy("Their value, a decimal string."))


class ForecastTotalSerializer(ForecastBucketSerializer):
    count = serializers.IntegerField(
        help_text=gettext_lazy("Every open opportunity: the buckets and the months added up.")
    )
    won = serializers.IntegerField(help_text=gettext_lazy("Deals won in the months."))
    won_value = _money_field(gettext_lazy("Their value, a decimal string."))


class ForecastRowSerializer(serializers.Serializer):
    """Every open opportunity counted once: slipped, no close date, a month, other months."""

    slipped = ForecastBucketSerializer(
        help_text=gettext_lazy("Open opportunities whose expected close date has passed.")
    )
    no_close_date = ForecastBucketSerializer(
        help_text=gettext_lazy("Open opportunities without an expected close date.")
    )
    months = ForecastMonthSerializer(many=True)
    other_months = ForecastBucketSerializer(
        help_text=gettext_lazy(
            "Open opportunities expected to close (from today on) outside the months."
        )
    )
    total = ForecastTotalSerializer()


class ForecastRepSerializer(ForecastRowSerializer):
    owner = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(help_text=gettext_lazy("Full name, else the username."))


class ForecastTeamSerializer(ForecastRowSerializer):
    team = serializers.IntegerField()
    name = serializers.CharField()


class ForecastSerializer(serializers.Serializer):
    months = serializers.ListField(child=serializers.CharField())
    reps = ForecastRepSerializer(many=True)
    totals = ForecastRowSerializer(help_text=gettext_lazy("Everyone's together."))
    teams = ForecastTeamSerializer(
        many=True, required=False, help_text=gettext_lazy("Managers only: per sales team.")
    )


class ForecastView(APIView):
    """The forecast per rep and per month of expected close (README "Pipeline"), every open
    opportunity once (slipped, no close date, a month, other months): a rep gets their own;
    a manager everyone's, a team's (``team``) or a rep's (``owner``), with the per-team
    sums. ``months_from`` and ``months_to`` as YYYY-MM, inclusive (default: this
    month and the five after it, at most 24)."""

    @extend_schema(
        summary="The pipeline forecast",
        parameters=[
            OpenApiParameter("months_from", str, description="YYYY-MM"),
            OpenApiParameter("months_to", str, description="YYYY-MM"),
            OpenApiParameter("team", int, description=gettext_lazy("A sales team's id.")),
            OpenApiParameter("owner", int, description=gettext_lazy("A rep's user id.")),
        ],
        responses={200: ForecastSerializer},
    )
    def get(self, request):
        form = ForecastForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        data = form.cleaned_data
        owners = pipeline_owners(request.user, owner=data["owner"], team=data["team"])
        result = forecast(owners, data["months"], per_team=roles.is_manager(request.user))
        return Response(ForecastSerializer(result).data)
