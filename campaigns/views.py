import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from leadflow import roles
from leadflow.errors import InvalidInput
from leadflow.http import run_action
from leadflow.permissions import RoleRequiredMixin, role_required
from leads.models import Lead
from leads.reporting import definitions, stats
from leads.reporting.forms import PeriodForm

from . import services
from .auto_response import PLACEHOLDERS
from .forms import AutoResponseForm, CampaignForm
from .models import Campaign, Channel


class MarketingRequiredMixin(RoleRequiredMixin):
    """Campaigns are marketing's: marketers and managers (SPEC §1)."""

    role_rule = roles.can_market
    role_message = gettext_lazy("Only marketers and managers can work on campaigns.")


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
        # Lifetime numbers from the dashboard's statistics, brought up to date first.
        stats.refresh(max_days=stats.INLINE_DAYS)
        qs = stats.with_campaign_totals(Campaign.objects.select_related("owner"))
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


class CampaignDetailView(MarketingRequiredMixin, DetailView):
    model = Campaign
    template_name = "campaigns/campaign_detail.html"
    context_object_name = "campaign"

    def get_queryset(self):
        return Campaign.objects.select_related("owner")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        campaign = self.object
        # The dashboard's numbers, filtered to this campaign, over a period that defaults
        # to the campaign's whole life: from its first lead (or its start) to today.
        current = stats.refresh(max_days=stats.INLINE_DAYS)
        first = stats.first_day(campaign)
        form = PeriodForm(
            self.request.GET or None,
            only=("start", "end"),
            default_start=min(filter(None, (first, campaign.start_date)), default=None),
        )
        filters = dataclasses.replace(form.filters(), campaign=campaign)
        funnel = stats.funnel(filters, with_median=False)
        context.update(
            form=form,
            filters=filters,
            funnel=funnel,
            steps=definitions.funnel_steps(funnel),
            cost_per_lead=definitions.rate(campaign.spend, funnel["generated"]),
            cost_per_won=definitions.rate(campaign.spend, funnel["won"]),
            stats_current=current,
            stats_as_of=stats.refreshed_at(),
            dashboard_url=reverse("dashboard") + "?" + filters.query(),
        )
        context["recent_leads"] = list(
            Lead.objects.filter(campaign=campaign)
            .select_related("owner")
            .order_by("-created_at", "-id")[:20]
        )
        context["intake_url"] = self.request.build_absolute_uri(f"/intake/{campaign.intake_key}/")
        context.setdefault("auto_response_form", AutoResponseForm(campaign=campaign))
        context["placeholders"] = PLACEHOLDERS
        context["leads_url"] = reverse("leads:list") + f"?campaign={campaign.pk}"
        context["period_leads_url"] = reverse("leads:list") + "?" + filters.lead_list_query()
        return context


@login_required
@require_POST
@role_required(roles.can_market, gettext_lazy("Only marketers and managers can do this."))
def rotate_key(request, pk):
    campaign = get_object_or_404(Campaign, pk=pk)
    return run_action(
        request,
        lambda: services.campaign_rotate_key(campaign=campaign, by=request.user),
        success=_("A new intake key is active; forms using the old key stop working."),
        back=campaign.get_absolute_url(),
    )


@login_required
@require_POST
@role_required(roles.can_market, gettext_lazy("Only marketers and managers can do this."))
def auto_response(request, pk):
    """Save the campaign's auto-response; a refused save shows the campaign page again with
    the form's errors."""
    campaign = get_object_or_404(Campaign, pk=pk)
    form = AutoResponseForm(request.POST, campaign=campaign)
    if form.is_valid():
        try:
            services.campaign_set_auto_response(
                campaign=campaign,
                by=request.user,
                enabled=form.cleaned_data["enabled"],
                texts=form.texts(),
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("The auto-response is saved."))
            return redirect(campaign.get_absolute_url() + "#auto-response")
    view = CampaignDetailView(request=request, kwargs={"pk": pk}, object=campaign)
    context = view.get_context_data(object=campaign, auto_response_form=form)
    return render(request, view.template_name, context, status=400)
