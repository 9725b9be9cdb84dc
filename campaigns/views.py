from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import NullIf
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from leadflow import roles
from leadflow.http import forbidden, run_action
from leads.lifecycle import InvalidInput
from leads.models import Flag, Lead, Side

from . import services
from .forms import CampaignForm
from .models import Campaign, Channel


class MarketingRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Campaigns are marketing's: marketers and managers (SPEC §1)."""

    def test_func(self):
        return roles.can_market(self.request.user)


SORTS = {
    "name": ("name",),
    "channel": ("channel", "name"),
    "start": ("-start_date", "name"),
    "generated": ("-generated", "name"),
    "handed_off": ("-handed_off", "name"),
    "accepted": ("-accepted", "name"),
    "won": ("-won", "name"),
    "spend": ("-spend", "name"),
    "cpl": (F("cost_per_lead").asc(nulls_last=True), "name"),
}


def with_stats(qs):
    """Per campaign, in one GROUP BY: leads generated, handed off, accepted, won, won value
    and cost per lead (spend / generated)."""
    qs = qs.annotate(
        generated=Count("leads"),
        handed_off=Count("leads", filter=Q(leads__handed_off_at__isnull=False)),
        accepted=Count("leads", filter=Q(leads__accepted_at__isnull=False)),
        won=Count("leads", filter=Q(leads__stage="won")),
        won_value=Sum("leads__deal_value", filter=Q(leads__stage="won")),
    )
    return qs.annotate(
        cost_per_lead=ExpressionWrapper(
            F("spend") / NullIf(F("generated"), 0),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
    )


class CampaignListView(MarketingRequiredMixin, ListView):
    template_name = "campaigns/campaign_list.html"
    context_object_name = "campaigns"
    paginate_by = 100

    def get_sort(self):
        """(column, reversed): ``?sort=won`` in the column's natural direction (most
        first for counts and money, A–Z for names), ``?sort=-won`` the other way."""
        sort = self.request.GET.get("sort", "start")
        key = sort.removeprefix("-")
        return (key, sort.startswith("-")) if key in SORTS else ("start", False)

    def get_queryset(self):
        qs = with_stats(Campaign.objects.select_related("owner"))
        channel = self.request.GET.get("channel")
        if channel in Channel.values:
            qs = qs.filter(channel=channel)
        key, reverse = self.get_sort()
        first, *rest = SORTS[key]
        if reverse:
            if isinstance(first, str):
                first = first[1:] if first.startswith("-") else f"-{first}"
            else:
                first = first.copy()
                first.descending = not first.descending  # empty ones stay last
        return qs.order_by(first, *rest)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        key, reverse = self.get_sort()
        first = SORTS[key][0]
        descending = first.startswith("-") if isinstance(first, str) else first.descending
        context["sort"] = key
        context["sort_reversed"] = reverse
        context["sort_dir"] = "ascending" if descending == reverse else "descending"
        context["channels"] = Channel.choices
        context["channel"] = self.request.GET.get("channel", "")
        return context


class CampaignCreateView(MarketingRequiredMixin, CreateView):
    model = Campaign
    form_class = CampaignForm
    template_name = "campaigns/campaign_form.html"

    def form_valid(self, form):
        try:
            self.object = services.campaign_create(by=self.request.user, data=form.cleaned_data)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, _("Campaign created."))
        return redirect(self.object.get_absolute_url())


class CampaignUpdateView(MarketingRequiredMixin, UpdateView):
    model = Campaign
    form_class = CampaignForm
    template_name = "campaigns/campaign_form.html"

    def form_valid(self, form):
        try:
            self.object = services.campaign_update(
                campaign=self.object, by=self.request.user, data=form.cleaned_data
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, _("Campaign saved."))
        return redirect(self.object.get_absolute_url())


FUNNEL = (
    ("generated", None),
    ("mql", "mql_at"),
    ("handed_off", "handed_off_at"),
    ("accepted", "accepted_at"),
    ("contacted", "first_contact_at"),
    ("opportunity", "opportunity_at"),
)


def campaign_funnel(campaign):
    """The campaign's funnel over all its leads (first touch), one aggregate query."""
    counts = {
        name: Count("id", filter=Q(**{f"{field}__isnull": False})) if field else Count("id")
        for name, field in FUNNEL
    }
    data = Lead.objects.filter(campaign=campaign).aggregate(
        **counts,
        won=Count("id", filter=Q(stage="won")),
        lost=Count("id", filter=Q(stage="lost")),
        rejected=Count("id", filter=Q(rejected_at__isnull=False)),
        won_value=Sum("deal_value", filter=Q(stage="won")),
    )
    generated = data["generated"]
    steps = []
    previous = None
    for name, label in (
        ("generated", _("Generated")),
        ("mql", _("MQL")),
        ("handed_off", _("Handed off")),
        ("accepted", _("Accepted")),
        ("contacted", _("Contacted")),
        ("opportunity", _("Opportunity")),
        ("won", _("Won")),
    ):
        value = data[name]
        steps.append(
            {
                "name": name,
                "label": label,
                "count": value,
                "of_generated": (value / generated) if generated else None,
                "from_previous": (value / previous) if previous else None,
            }
        )
        previous = value
    data["steps"] = steps
    data["cost_per_lead"] = (campaign.spend / generated) if generated else None
    data["cost_per_won"] = (campaign.spend / data["won"]) if data["won"] else None
    return data


class CampaignDetailView(MarketingRequiredMixin, DetailView):
    model = Campaign
    template_name = "campaigns/campaign_detail.html"
    context_object_name = "campaign"

    def get_queryset(self):
        return Campaign.objects.select_related("owner")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        campaign = self.object
        context["funnel"] = campaign_funnel(campaign)
        context["recent_leads"] = list(
            Lead.objects.filter(campaign=campaign)
            .select_related("owner")
            .order_by("-created_at", "-id")[:20]
        )
        context["open_marketing_flags"] = (
            Flag.objects.open().filter(lead__campaign=campaign, side=Side.MARKETING).count()
        )
        context["intake_url"] = self.request.build_absolute_uri(f"/intake/{campaign.intake_key}/")
        context["leads_url"] = reverse("leads:list") + f"?campaign={campaign.pk}"
        return context


@login_required
@require_POST
def rotate_key(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    if not roles.can_market(request.user):
        return forbidden(request, _("Only marketers and managers can do this."))
    return run_action(
        request,
        lambda: services.campaign_rotate_key(campaign=campaign, by=request.user),
        success=_("A new intake key is active; forms using the old key stop working."),
        back=campaign.get_absolute_url(),
    )
