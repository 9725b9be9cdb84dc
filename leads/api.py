"""Leads in the JSON API: list (the lead list's filters, keyset cursor), detail, create
through ``lead_intake``, and marketing's lifecycle actions. Sales' actions come from
``sales.api.SalesLeadActions``; both call the same services as the pages."""

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from leadflow import roles
from leadflow.api.base import CanMarket, api_url, choice, user_by_id, validated
from sales.api import DisputeSerializer, SalesLeadActions

from . import services
from .bulk import services as bulk
from .filters import (
    KeysetPage,
    LeadFilterForm,
    SavedViewForm,
    default_views,
    filter_form,
    matching_leads,
    view_errors,
)
from .models import (
    CONSENT_SOURCES,
    BulkAction,
    BulkJob,
    DisqualifyReason,
    Flag,
    InquiryType,
    Lead,
    LostReason,
    RejectionReason,
    SavedView,
    TouchSource,
)
from .reporting import views as reporting
from .reporting.attribution import MODELS as ATTRIBUTION_MODELS
from .reporting.forms import PeriodForm

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


# --- representation ----------------------------------------------------------------------


class LeadSerializer(serializers.ModelSerializer):
    """A lead as the API shows it (read-only: changes go through the actions)."""

    campaign_name = serializers.CharField(source="campaign.name", read_only=True, allow_null=True)
    channel = serializers.CharField(source="campaign.channel", read_only=True, allow_null=True)
    owner_username = serializers.CharField(
        source="owner.username", read_only=True, allow_null=True
    )
    open_flags = serializers.SerializerMethodField(
        help_text=gettext_lazy("Kinds of the lead's open flags, oldest first.")
    )
    marketing_court_minutes = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "Minutes marketing has held the lead (new, MQL, rejected), over all its stretches "
            "up to now."
        )
    )
    sales_court_minutes = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "Minutes sales has held the lead (handed off, accepted, contacted, opportunity), "
            "over all its handoffs up to now."
        )
    )
    url = serializers.SerializerMethodField()
    # Blank when unknown (a phone-only lead), so not declared as format "email".
    email = serializers.CharField(read_only=True)
    rejection_reason = choice(RejectionReason.choices)
    lost_reason = choice(LostReason.choices)
    consent_source = choice(
        CONSENT_SOURCES,
        help_text=gettext_lazy(
            "Where the latest explicit consent answer came from (a touch's source, or an "
            "edit of the lead); blank when none is recorded."
        ),
    )
    disqualify_reason = choice(DisqualifyReason.choices)

    class Meta:
        model = Lead
        fields = [
            "id",
            "url",
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "job_title",
            "country",
            "notes",
            "consent",
            "consent_at",
            "consent_source",
            "campaign",
            "campaign_name",
            "channel",
            "last_touch_campaign",
            "inquiry_type",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
            "origin",
            "stage",
            "owner_side",
            "owner",
            "owner_username",
            "score",
            "created_at",
            "mql_at",
            "handed_off_at",
            "last_handed_off_at",
            "accepted_at",
            "rejected_at",
            "rejection_reason",
            "first_contact_at",
            "first_connect_at",
            "attempts_before_connect",
            "opportunity_at",
            "closed_at",
            "deal_value",
            "expected_close_on",
            "probability",
            "lost_reason",
            "disqualify_reason",
            "disputed_at",
            "last_activity_at",
            "next_follow_up_at",
            "open_flags",
            "marketing_court_minutes",
            "sales_court_minutes",
            "updated_at",
        ]
        read_only_fields = fields

    def _court_time(self, lead):
        # One reading per lead and response, the current stretch counted up to now.
        cache = getattr(lead, "_court_time_read", None)
        if cache is None:
            cache = lead._court_time_read = lead.court_time()
        return cache

    def get_marketing_court_minutes(self, lead) -> int:
        return self._court_time(lead)["marketing"]

    def get_sales_court_minutes(self, lead) -> int:
        return self._court_time(lead)["sales"]

    def get_open_flags(self, lead) -> list[str]:
        flags = getattr(lead, "open_flag_list", None)
        if flags is None:
            flags = Flag.objects.open().filter(lead=lead).order_by("raised_at")
        return [flag.kind for flag in flags]

    def get_url(self, lead) -> str:
        return api_url(self.context.get("request"), "api:lead-detail", lead.pk)


def lead_queryset():
    """Leads with what the serializer reads: a fixed number of queries per page."""
    return Lead.objects.select_related("campaign", "owner").prefetch_related(
        Prefetch(
            "flags", queryset=Flag.objects.open().order_by("raised_at"), to_attr="open_flag_list"
        )
    )


class LeadPageSerializer(serializers.Serializer):
    is_page = True

    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LeadSerializer(many=True)


# --- input -----------------------------------------------------------------------------


class LeadCreateSerializer(serializers.Serializer):
    """Logging a lead, as the lead form does; a known email becomes a touch."""

    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    job_title = serializers.CharField(max_length=150, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    consent = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=gettext_lazy(
            "The consent answer this inquiry carried: true gives it, false withdraws it; "
            "leave it out (or null) when it carried none. A lead's consent is its latest "
            "explicit answer."
        ),
    )
    campaign = serializers.PrimaryKeyRelatedField(
        queryset=Campaign.objects.all(),
        required=False,
        allow_null=True,
        help_text=gettext_lazy(
            "First-touch campaign; required for marketers and managers, optional for a "
            "salesperson's own (sales-generated) lead."
        ),
    )
    inquiry_type = serializers.ChoiceField(
        choices=InquiryType.choices, required=False, default=InquiryType.WEB_FORM
    )
    utm_source = serializers.CharField(max_length=200, required=False, allow_blank=True)
    utm_medium = serializers.CharField(max_length=200, required=False, allow_blank=True)
    utm_campaign = serializers.CharField(max_length=200, required=False, allow_blank=True)
    utm_term = serializers.CharField(max_length=200, required=False, allow_blank=True)
    utm_content = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, data):
        user = self.context["request"].user
        # The lead form's rule: marketing's leads come from a campaign.
        if roles.can_market(user) and not data.get("campaign"):
            raise ValidationError({"campaign": [_("This field is required.")]})
        return data


class LeadCreatedSerializer(serializers.Serializer):
    created = serializers.BooleanField(
        allow_null=True,
        help_text=gettext_lazy(
            "true: a new lead (201). false: the email matched an open lead of yours and this "
            "inquiry was added to it as a touch (200). null: the email matched an open lead "
            "outside your scope; the inquiry was recorded on it for its owner (202)."
        ),
    )
    touch_id = serializers.IntegerField(
        allow_null=True, help_text=gettext_lazy("null when the lead is outside your scope.")
    )
    lead = LeadSerializer(
        allow_null=True,
        help_text=gettext_lazy("The lead; null when it is outside your scope (another rep's)."),
    )
    detail = serializers.CharField(required=False)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class QualifySerializer(NoteSerializer):
    score = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)


class DisqualifySerializer(NoteSerializer):
    reason = serializers.ChoiceField(choices=DisqualifyReason.choices)


class HandOffSerializer(serializers.Serializer):
    MODES = [
        ("auto", gettext_lazy("Whoever the assignment rules pick")),
        ("rep", gettext_lazy("A chosen salesperson (to_user)")),
        ("round_robin", gettext_lazy("Next salesperson in turn (round-robin)")),
        ("queue", gettext_lazy("The unassigned sales queue")),
    ]
    mode = serializers.ChoiceField(choices=MODES)
    to_user = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text=gettext_lazy("User id of the salesperson (mode rep)."),
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def validate(self, data):
        if data["mode"] == "rep" and not data.get("to_user"):
            raise ValidationError({"to_user": [_("Choose the salesperson.")]})
        return data


class DisputeRaiseSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000)


class BulkRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=BulkAction.choices)
    filter = serializers.DictField(
        required=False,
        help_text=gettext_lazy(
            "The lead list's filters (q, stage, campaign, channel, owner, origin, flag, "
            "dropped, created_from, created_to), each a value or a list of values; {} is "
            "every lead in your scope. Give this or ids."
        ),
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        allow_empty=False,
        max_length=bulk.MAX_IDS,
        help_text=gettext_lazy("Lead ids (those outside your scope are left out)."),
    )
    reason = serializers.ChoiceField(
        choices=DisqualifyReason.choices,
        required=False,
        help_text=gettext_lazy("Required to disqualify."),
    )
    to = serializers.CharField(
        required=False,
        max_length=20,
        help_text=gettext_lazy(
            "Hand off to: a salesperson's user id, `rules` (the assignment rules), "
            "`round_robin` or `queue` (the unassigned sales queue). Required to hand off."
        ),
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    TARGETS = {
        "rules": services.HAND_OFF_AUTO,
        "round_robin": services.HAND_OFF_ROUND_ROBIN,
        "queue": services.HAND_OFF_QUEUE,
    }

    def validate(self, data):
        if ("filter" in data) == ("ids" in data):
            raise ValidationError(_("Give either a filter or a list of ids."))
        if data["action"] == BulkAction.DISQUALIFY and not data.get("reason"):
            raise ValidationError({"reason": [_("Choose a reason for disqualifying.")]})
        if data["action"] == BulkAction.HAND_OFF:
            to = (data.get("to") or "").strip()
            if to in self.TARGETS:
                data["mode"] = self.TARGETS[to]
            elif to.isascii() and to.isdigit() and 0 < int(to) < 2**63:
                data["mode"], data["to_user"] = services.HAND_OFF_REP, int(to)
            else:
                raise ValidationError(
                    {"to": [_("Give a salesperson's user id, rules, round_robin or queue.")]}
                )
        return data


class BulkAcceptedSerializer(serializers.Serializer):
    job = serializers.URLField(help_text=gettext_lazy("The job: GET it for its progress."))
    id = serializers.IntegerField()
    count = serializers.IntegerField(help_text=gettext_lazy("Leads in the fixed set."))


class SkippedReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()
    leads = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=gettext_lazy("The first lead ids skipped for this reason, in id order."),
    )


class BulkJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    progress = serializers.IntegerField(read_only=True, help_text=gettext_lazy("Percent done."))
    moved = serializers.IntegerField(source="moved_count", read_only=True)
    skipped_count = serializers.IntegerField(read_only=True)
    skipped = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "The skipped leads grouped by the refusal's message, the commonest first."
        )
    )
    stalled = serializers.BooleanField(source="is_stalled", read_only=True)

    class Meta:
        model = BulkJob
        fields = [
            "id",
            "url",
            "action",
            "status",
            "total",
            "processed",
            "progress",
            "moved",
            "skipped_count",
            "skipped",
            "stalled",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job) -> str:
        return api_url(self.context.get("request"), "api:bulk-job-detail", job.pk)

    @extend_schema_field(SkippedReasonSerializer(many=True))
    def get_skipped(self, job):
        if not job.skipped_count:
            return []
        return [
            {"reason": reason, "count": n, "leads": ids}
            for reason, n, ids in bulk.skipped_by_reason(job)
        ]


class BulkJobViewSet(viewsets.GenericViewSet):
    """Bulk actions' jobs: yours (managers: everyone's)."""

    serializer_class = BulkJobSerializer
    queryset = BulkJob.objects.none()  # the schema's; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return bulk.user_bulk_jobs(self.request.user)

    @extend_schema(
        summary="A bulk action's progress and report",
        description=(
            "Status (queued, running, done, failed), progress, how many leads moved, and "
            "those skipped, grouped by the reason the service gave."
        ),
        responses={200: BulkJobSerializer},
    )
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)


# --- the list's filters as query parameters ---------------------------------------------


def _form_parameters(form_class):
    """OpenAPI query parameters of the lead list, derived from LeadFilterForm so the schema
    cannot drift from the filters the pages use."""
    params = []
    for name, field in form_class.base_fields.items():
        kwargs = {"description": str(field.label or "")}
        if isinstance(field, forms.ModelChoiceField):
            kwargs["type"] = int
        elif isinstance(field, forms.MultipleChoiceField):
            kwargs.update(type=str, many=True, explode=True, enum=[c for c, _l in field.choices])
        elif isinstance(field, forms.ChoiceField):
            kwargs.update(type=str, enum=[c for c, _l in field.choices if c])
        elif isinstance(field, forms.DateField):
            kwargs["type"] = OpenApiTypes.DATE
        else:
            kwargs["type"] = str
        if name == "owner":
            kwargs["pattern"] = "^(me|none|[0-9]{1,18})?$"
            kwargs["description"] = gettext_lazy("A user id, `me`, or `none` (unassigned).")
        params.append(OpenApiParameter(name, **kwargs))
    return params


LIST_PARAMETERS = [
    *_form_parameters(LeadFilterForm),
    OpenApiParameter(
        "cursor", str, description=gettext_lazy("Opaque cursor from `next` or `previous`.")
    ),
    OpenApiParameter(
        "page_size",
        int,
        description=gettext_lazy("Leads per page, 1 to %(max)s (default %(default)s).")
        % {"max": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
    ),
]


def _page_size(request):
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValidationError(
            {"page_size": [_("Give a number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE}]}
        )
    return int(raw)


# --- the viewset -------------------------------------------------------------------------


class LeadViewSet(SalesLeadActions, viewsets.GenericViewSet):
    """Leads in your scope (all for marketers and managers; a salesperson's own plus the
    unassigned queue), and the handoff lifecycle's actions on them. Each action calls the
    same service as the lead page: your role decides (403), and so does the lead's stage
    (409, also when someone else acted first)."""

    serializer_class = LeadSerializer

    def get_queryset(self):
        # Every lead the API touches comes through the user's scope: another rep's is a 404.
        return lead_queryset().for_user(self.request.user)

    def lead_response(self, lead, status_code=status.HTTP_200_OK):
        """The lead after an action, read fresh (an action may take it out of the actor's
        scope: a rejected lead goes back to marketing)."""
        lead = lead_queryset().get(pk=lead.pk)
        return Response(
            LeadSerializer(lead, context=self.get_serializer_context()).data, status=status_code
        )

    @extend_schema(
        summary="List leads",
        description=(
            "The lead list's filters, search and sort (same parameters as /leads/), newest "
            "first by default, keyset-paginated: follow `next` / `previous`."
        ),
        parameters=LIST_PARAMETERS,
        responses={200: LeadPageSerializer},
    )
    def list(self, request):
        form = LeadFilterForm(request.query_params, user=request.user)
        if not form.is_valid():
            raise ValidationError(
                {
                    f: [e["message"] for e in errs]
                    for f, errs in form.errors.get_json_data().items()
                }
            )
        per_page = _page_size(request)
        filtered, search = form.filter_and_search(self.get_queryset())
        try:
            page = KeysetPage(
                filtered,
                form.ordering(),
                request.query_params.get("cursor"),
                per_page,
                search=search,
            )
        except (ValueError, TypeError, OverflowError, DjangoValidationError, DataError):
            # A hand-made cursor whose values do not fit the sort's columns.
            page = None
        if page is None or page.invalid_cursor:
            raise ValidationError({"cursor": [_("This cursor is not valid.")]})
        return Response(
            {
                "next": self._page_link(request, page.next_cursor()),
                "previous": self._page_link(request, page.previous_cursor()),
                "results": LeadSerializer(
                    page.object_list, many=True, context=self.get_serializer_context()
                ).data,
            }
        )

    def _page_link(self, request, cursor):
        if cursor is None:
            return None
        params = request.query_params.copy()
        params["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    @extend_schema(summary="Get a lead", responses={200: LeadSerializer})
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Log a lead",
        description=(
            "Logs an inquiry through the same service as the lead form. A salesperson's lead "
            "is sales-generated (accepted, theirs). An email matching an open lead adds a "
            "touch to it instead: 200 with `created: false`, or, when that lead is outside "
            "your scope (another rep's), 202 with `created`, `touch_id` and `lead` null: "
            "nothing of that lead is shown, and the touch never overwrites its fields."
        ),
        request=LeadCreateSerializer,
        responses={
            201: LeadCreatedSerializer,
            200: LeadCreatedSerializer,
            202: LeadCreatedSerializer,
        },
    )
    def create(self, request):
        data = validated(LeadCreateSerializer, request)
        utm = {k: data.pop(k) for k in list(data) if k.startswith("utm_")}
        campaign = data.pop("campaign", None)
        inquiry_type = data.pop("inquiry_type")
        result = services.lead_intake(
            by=request.user,
            data=data,
            campaign=campaign,
            inquiry_type=inquiry_type,
            source=TouchSource.API,
            utm=utm,
            message=data.get("notes") or "",
        )
        visible = Lead.objects.for_user(request.user).filter(pk=result.lead.pk).exists()
        if not visible:
            # Another rep's lead: say only that the inquiry was recorded for its owner,
            # as the lead form does, with no id of the lead or its touch.
            body = {
                "created": None,
                "touch_id": None,
                "lead": None,
                "detail": str(services.OUT_OF_SCOPE_TOUCH),
            }
            return Response(body, status=status.HTTP_202_ACCEPTED)
        lead = lead_queryset().get(pk=result.lead.pk)
        body = {
            "created": result.created,
            "touch_id": result.touch.pk,
            "lead": LeadSerializer(lead, context=self.get_serializer_context()).data,
        }
        if result.created:
            headers = {"Location": api_url(request, "api:lead-detail", result.lead.pk)}
            return Response(body, status=status.HTTP_201_CREATED, headers=headers)
        return Response(body, status=status.HTTP_200_OK)

    # --- marketing's court ---------------------------------------------------------------

    @extend_schema(
        summary="Qualify (new or nurture -> mql)",
        request=QualifySerializer,
        responses={200: LeadSerializer},
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request, pk=None):
        lead = self.get_object()
        data = validated(QualifySerializer, request)
        lead = services.lead_qualify(
            lead=lead, by=request.user, score=data.get("score"), note=data["note"]
        )
        return self.lead_response(lead)

    @extend_schema(
        summary="Move to nurture (new or mql -> nurture)",
        request=NoteSerializer,
        responses={200: LeadSerializer},
    )
    @action(detail=True, methods=["post"])
    def nurture(self, request, pk=None):
        lead = self.get_object()
        data = validated(NoteSerializer, request)
        return self.lead_response(
            services.lead_nurture(lead=lead, by=request.user, note=data["note"])
        )

    @extend_schema(
        summary="Recycle a rejected lead to nurture",
        request=NoteSerializer,
        responses={200: LeadSerializer},
    )
    @action(detail=True, methods=["post"])
    def recycle(self, request, pk=None):
        lead = self.get_object()
        data = validated(NoteSerializer, request)
        return self.lead_response(
            services.lead_recycle(lead=lead, by=request.user, note=data["note"])
        )

    @extend_schema(
        summary="Disqualify (new, mql, nurture or rejected)",
        request=DisqualifySerializer,
        responses={200: LeadSerializer},
    )
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        lead = self.get_object()
        data = validated(DisqualifySerializer, request)
        return self.lead_response(
            services.lead_disqualify(
                lead=lead, by=request.user, reason=data["reason"], note=data["note"]
            )
        )

    @extend_schema(
        summary="Hand off to sales (mql or rejected -> handed_off)",
        description=(
            "By the assignment rules (`mode: auto`: the rep or queue they pick, the "
            "decision kept on the handoff), to a chosen salesperson (`rep`, `to_user`), "
            "the next one in turn (`round_robin`), or the unassigned sales queue (`queue`)."
        ),
        request=HandOffSerializer,
        responses={200: LeadSerializer},
    )
    @action(detail=True, methods=["post"], url_path="hand-off")
    def hand_off(self, request, pk=None):
        lead = self.get_object()
        data = validated(HandOffSerializer, request)
        mode = data["mode"]
        services.lead_hand_off(
            lead=lead,
            by=request.user,
            **services.hand_off_kwargs(
                mode=mode,
                to_user=user_by_id(data.get("to_user")) if mode == services.HAND_OFF_REP else None,
                note=data["note"],
            ),
        )
        return self.lead_response(lead)

    @extend_schema(
        summary="Act on many leads at once (a background job)",
        description=(
            "Qualify, nurture, disqualify (`reason`) or hand off (`to`: a salesperson's user "
            "id, `rules`, `round_robin` or `queue`) every lead that matches `filter` (the "
            "lead list's filters, as in GET /leads/) or the leads of `ids`, within your "
            "scope. The set is fixed now: leads that match later are not included. The "
            "job then takes each lead in turn through the same service as the single "
            "action, with its own checks; a lead whose stage no longer allows it is "
            "skipped and the job's report says why. Answers 202 with the job's URL."
        ),
        request=BulkRequestSerializer,
        responses={202: BulkAcceptedSerializer},
    )
    @action(detail=False, methods=["post"], permission_classes=[CanMarket])
    def bulk(self, request):
        data = validated(BulkRequestSerializer, request)
        user = request.user
        mode, to_user = data.get("mode", ""), data.get("to_user")
        params = bulk.bulk_params(
            action=data["action"],
            reason=data.get("reason", ""),
            mode=mode,
            to_user=user_by_id(to_user, field="to") if to_user else None,
            note=data["note"],
        )
        if "filter" in data:
            try:
                form = filter_form(data["filter"], user)
            except ValueError as exc:
                raise ValidationError({"filter": [str(exc)]}) from None
            if not form.is_valid():
                raise ValidationError({"filter": form.error_lines()})
            chosen = {"leads": matching_leads(form, user), "selection": form.data.urlencode()}
        else:
            # Only leads in the caller's scope: others are left out, as if not found.
            ids = Lead.objects.for_user(user).filter(pk__in=data["ids"]).values_list("pk")
            chosen = {"lead_ids": [pk for (pk,) in ids]}
        job = bulk.bulk_job_create(by=user, action=data["action"], params=params, **chosen)
        url = api_url(request, "api:bulk-job-detail", job.pk)
        return Response(
            {"job": url, "id": job.pk, "count": job.total},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )

    @extend_schema(
        summary="Dispute the latest rejection",
        description="A marketer disputes a rejection; a manager rules on it (/disputes/).",
        request=DisputeRaiseSerializer,
        responses={201: DisputeSerializer},
    )
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        lead = self.get_object()
        data = validated(DisputeRaiseSerializer, request)
        dispute = services.dispute_raise(lead=lead, by=request.user, comment=data["comment"])
        return Response(
            DisputeSerializer(dispute, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


# --- the dashboard's numbers ---------------------------------------------------------------


class BallDroppedSerializer(serializers.Serializer):
    marketing = serializers.IntegerField()
    sales = serializers.IntegerField()
    market = serializers.IntegerField()
    in_progress = serializers.IntegerField()


class RevenueAtRiskSerializer(serializers.Serializer):
    """Each ball-dropped bucket's expected revenue lost: per channel, its leads x the win
    rate (won / handed off) x the average won deal value of the handed-off leads of that
    channel created in the 365 days before ``start``; money as decimal strings."""

    marketing = serializers.CharField()
    sales = serializers.CharField()
    market = serializers.CharField()
    in_progress = serializers.CharField()


# Speed to lead, court time, attempts and honesty (SPEC §5): the shape of
# leads.reporting.stats.clock_json, documentation only like FunnelSerializer.
MINUTES = gettext_lazy("Minutes, rounded to 0.1; null when no lead has the span.")
SHARE = gettext_lazy("A fraction 0–1; null when the denominator is 0.")


def _minutes():
    return serializers.FloatField(allow_null=True, help_text=MINUTES)


class SpreadSerializer(serializers.Serializer):
    median_minutes = _minutes()
    p90_minutes = _minutes()


class SpeedBandsSerializer(serializers.Serializer):
    """Inquiries per band of time from creation to the reach (each band above the one
    before it, up to and including its bound); ``never`` have not reached it."""

    within_5_min = serializers.IntegerField()
    within_1_h = serializers.IntegerField()
    within_24_h = serializers.IntegerField()
    over_24_h = serializers.IntegerField()
    never = serializers.IntegerField()


class SpeedReachSerializer(SpreadSerializer):
    """Creation to the first attempt or first connect, over the inquiries that got there;
    marketing's share is creation to the first handoff, sales' the first handoff to it."""

    reached = serializers.IntegerField()
    bands = SpeedBandsSerializer()
    marketing_share = SpreadSerializer()
    sales_share = SpreadSerializer()


class SpeedToLeadSerializer(serializers.Serializer):
    inquiries = serializers.IntegerField(
        help_text=gettext_lazy("Leads marketing brought in (sales-generated ones left out).")
    )
    attempt = SpeedReachSerializer()
    connect = SpeedReachSerializer()


class HeldLeadSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    minutes = serializers.IntegerField()


class CampaignCourtSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    median_minutes = _minutes()


class RepCourtSerializer(serializers.Serializer):
    rep = serializers.IntegerField()
    median_minutes = _minutes()


class MarketingCourtSerializer(serializers.Serializer):
    median_minutes = _minutes()
    by_campaign = CampaignCourtSerializer(many=True)
    held_longest = HeldLeadSerializer(
        many=True,
        help_text=gettext_lazy("The leads held longest right now, only those you may open."),
    )


class SalesCourtSerializer(serializers.Serializer):
    median_minutes = _minutes()
    by_rep = RepCourtSerializer(many=True)
    held_longest = HeldLeadSerializer(
        many=True,
        help_text=gettext_lazy("The leads held longest right now, only those you may open."),
    )


class CourtTimeSerializer(serializers.Serializer):
    marketing = MarketingCourtSerializer()
    sales = SalesCourtSerializer()


class AttemptsSerializer(serializers.Serializer):
    attempted = serializers.IntegerField()
    connected = serializers.IntegerField()
    median_before_connect = serializers.FloatField(allow_null=True)
    unreached_after = serializers.IntegerField()
    unreached = serializers.IntegerField()
    unreached_share = serializers.FloatField(allow_null=True, help_text=SHARE)


class RepHonestySerializer(serializers.Serializer):
    rep = serializers.IntegerField()
    contacts = serializers.IntegerField()
    logged_late = serializers.IntegerField()
    late_share = serializers.FloatField()


class HonestySerializer(serializers.Serializer):
    contacts = serializers.IntegerField()
    logged_late = serializers.IntegerField()
    late_share = serializers.FloatField(allow_null=True, help_text=SHARE)
    by_rep = RepHonestySerializer(many=True)


class AttributionAmountsSerializer(serializers.Serializer):
    leads = serializers.CharField(
        help_text=gettext_lazy("Attributed leads, a decimal string with six places.")
    )
    pipeline = serializers.CharField(
        help_text=gettext_lazy(
            "Attributed deal value of the leads that reached opportunity, a decimal string "
            "with two places."
        )
    )
    won_revenue = serializers.CharField(
        help_text=gettext_lazy(
            "Attributed deal value of the won leads, a decimal string with two places."
        )
    )


class AttributedCampaignSerializer(AttributionAmountsSerializer):
    campaign = serializers.IntegerField(
        allow_null=True, help_text=gettext_lazy("null: touches without a campaign.")
    )
    name = serializers.CharField()


class AttributionSerializer(serializers.Serializer):
    """The shape of leads.reporting.stats.attribution_json; documentation only."""

    model = serializers.ChoiceField(choices=list(ATTRIBUTION_MODELS))
    campaigns = AttributedCampaignSerializer(many=True)
    # The cohort's leads, pipeline and won value: every model's parts add up to them.
    totals = AttributionAmountsSerializer()


class FunnelSerializer(serializers.Serializer):
    """The shape of leads.reporting.stats.funnel_json (SPEC §6); documentation only."""

    generated = serializers.IntegerField()
    mql = serializers.IntegerField()
    handed_off = serializers.IntegerField()
    accepted = serializers.IntegerField()
    contacted = serializers.IntegerField()
    opportunity = serializers.IntegerField()
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    won_value = serializers.CharField(help_text=gettext_lazy("Money as a decimal string."))
    acceptance_rate = serializers.FloatField(allow_null=True)
    contact_in_sla_rate = serializers.FloatField(allow_null=True)
    median_hours_to_first_contact = serializers.FloatField(allow_null=True)
    win_rate = serializers.FloatField(allow_null=True)
    ball_dropped = BallDroppedSerializer()
    spend = serializers.CharField(
        help_text=gettext_lazy(
            "Spend of the filter's campaigns during the period: each spend entry prorated "
            "by day, rounded to the cent per campaign, summed. Decimal string, two places."
        )
    )
    cost_per_lead = serializers.CharField(
        allow_null=True,
        help_text=gettext_lazy("spend / generated, to the cent; null when nothing was generated."),
    )
    cost_per_won = serializers.CharField(
        allow_null=True,
        help_text=gettext_lazy("spend / won, to the cent; null when nothing was won."),
    )
    speed_to_lead = SpeedToLeadSerializer()
    court_time = CourtTimeSerializer()
    attempts = AttemptsSerializer()
    honesty = HonestySerializer()
    attribution = AttributionSerializer()
    revenue_at_risk = RevenueAtRiskSerializer()


class FunnelView(APIView):
    """The dashboard's numbers for the dashboard's filters (``start`` and ``end`` inclusive,
    in the site's time zone; ``campaign``, ``channel``, ``owner``). Rates are fractions 0–1,
    null when their denominator is 0."""

    @extend_schema(
        summary="The handoff funnel",
        parameters=_form_parameters(PeriodForm),
        responses={200: FunnelSerializer},
    )
    def get(self, request):
        # The dashboard's own view computes and checks; DRF has already authenticated the
        # caller (token or session) and set it on the Django request.
        return reporting.funnel_api(request._request)


class AttributionView(APIView):
    """Attributed leads, pipeline (deal value of the leads that reached opportunity) and won
    revenue per credited campaign, for the funnel's filters (the cohort by creation day,
    first-touch campaign, channel, owner) and ``model``: first, last, linear, u_shaped,
    w_shaped or time_decay (default first). Each lead's parts add up to one lead and its deal
    value to the cent, so the totals are the cohort's; an unknown model is a 400."""

    @extend_schema(
        summary="Multi-touch attribution per campaign",
        parameters=_form_parameters(PeriodForm),
        responses={200: AttributionSerializer},
    )
    def get(self, request):
        return reporting.attribution_api(request._request)


# --- saved views of the lead list ---------------------------------------------------------


class SavedViewSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=gettext_lazy("Null for a default view.")
    )
    name = serializers.CharField(max_length=80)
    query = serializers.CharField(
        max_length=services.SAVED_VIEW_QUERY_MAX,
        allow_blank=True,
        required=False,
        default="",
        help_text=gettext_lazy(
            "The lead list's query string: its filters and sort, as GET /api/v1/leads/ "
            "takes them (e.g. `stage=new&campaign=3&sort=name`)."
        ),
    )
    shared = serializers.BooleanField(
        default=False, help_text=gettext_lazy("Seen by the owner's team (README).")
    )
    default = serializers.BooleanField(read_only=True)
    owner_username = serializers.CharField(read_only=True, allow_null=True)
    errors = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text=gettext_lazy("Why the view's filters no longer validate; empty when they do."),
    )


def _saved_view_data(view, user):
    default = getattr(view, "is_default", False)
    return {
        "id": None if default else view.pk,
        "name": str(view.name),
        "query": view.query,
        "shared": view.shared,
        "default": default,
        "owner_username": None if default else view.owner.username,
        "errors": [] if default else view_errors(view.query, user),
    }


class SavedViewViewSet(viewsets.ViewSet):
    """The user's saved views of the lead list, their team's shared ones and the defaults;
    a POST saves one through the same service and filter-form check as the list page."""

    @extend_schema(summary="List saved views", responses={200: SavedViewSerializer(many=True)})
    def list(self, request):
        user = request.user
        stored = SavedView.objects.visible_to(user).select_related("owner")
        views = [*default_views(user), *stored]
        return Response([_saved_view_data(view, user) for view in views])

    @extend_schema(
        summary="Save a view of the lead list",
        request=SavedViewSerializer,
        responses={201: SavedViewSerializer},
    )
    def create(self, request):
        data = validated(SavedViewSerializer, request)
        form = SavedViewForm(
            {"name": data["name"], "query": data["query"], "shared": data["shared"]},
            user=request.user,
        )
        if not form.is_valid():
            raise ValidationError(form.errors)
        view = services.saved_view_save(
            by=request.user,
            name=form.cleaned_data["name"],
            shared=form.cleaned_data["shared"],
            query=form.cleaned_data["query"],
        )
        return Response(_saved_view_data(view, request.user), status=status.HTTP_201_CREATED)
