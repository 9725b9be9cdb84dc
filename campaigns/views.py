import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import DecimalField, ExpressionWrapper, F
from django.db.models.functions import NullIf
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

from . import services, spend, spend_csv
from .auto_response import PLACEHOLDERS
from .forms import AutoResponseForm, CampaignForm, SpendEntryForm, SpendUploadForm
from .models import Campaign, Channel, SpendEntry


class MarketingRequiredMixin(RoleRequiredMixin):
    """Campaigns are marketing's: marketers and managers (SPEC §1)."""

    role_rule = roles.can_market
    role_message = gettext_lazy("Only marketers and managers can work on campaigns.")


def _cost_per_lead_sort():
    # The sort key of the list's cost per lead (lifetime spend / lifetime leads; the rows
    # show definitions.cost_per of the same two numbers), empty campaigns last.
    return ExpressionWrapper(
        spend.lifetime_spend() / NullIf(stats.campaign_total("generated"), 0),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )


# column -> (the ordering expression's maker, None for a column of the campaign itself;
# the ordering). Only the sorted column is computed for every campaign; the page's rows
# get their figures afterwards (CampaignListView.paginate_queryset).
SORTS = {
    "name": (None, ("name",)),
    "channel": (None, ("channel", "name")),
    "start": (None, ("-start_date", "name")),
    "generated": (lambda: stats.campaign_total("generated"), ("-sort_value", "name")),
    "handed_off": (lambda: stats.campaign_total("handed_off"), ("-sort_value", "name")),
    "accepted": (lambda: stats.campaign_total("accepted"), ("-sort_value", "name")),
    "won": (lambda: stats.campaign_total("won"), ("-sort_value", "name")),
    "spend": (spend.lifetime_spend, ("-sort_value", "name")),
    "cpl": (_cost_per_lead_sort, (F("sort_value").asc(nulls_last=True), "name")),
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
        qs = Campaign.objects.select_related("owner")
        channel = self.request.GET.get("channel")
        if channel in Channel.values:
            qs = qs.filter(channel=channel)
        key, reverse = self.get_sort()
        value, (first, *rest) = SORTS[key]
        if value is not None:
            qs = qs.annotate(sort_value=value())
        if reverse:
            if isinstance(first, str):
                first = first[1:] if first.startswith("-") else f"-{first}"
            else:
                first = first.copy()
                first.descending = not first.descending  # empty ones stay last
        return qs.order_by(first, *rest)

    def paginate_queryset(self, queryset, page_size):
        """The page's campaigns with their lifetime figures: two grouped queries over
        only these campaigns' statistics and spend entries, however many campaigns and
        leads there are."""
        paginator, page, rows, more = super().paginate_queryset(queryset, page_size)
        rows = list(rows)
        ids = [c.pk for c in rows]
        totals = stats.campaign_totals(ids)
        spends = spend.lifetime_by_campaign(ids)
        empty = dict.fromkeys(stats.CAMPAIGN_LIST_SUMS, 0)
        for campaign in rows:
            for name, number in totals.get(campaign.pk, empty).items():
                setattr(campaign, name, number)
            campaign.spend = spends.get(campaign.pk, spend.ZERO)
            campaign.cost_per_lead = definitions.cost_per(campaign.spend, campaign.generated)
        page.object_list = rows
        return paginator, page, rows, more

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        key, reverse = self.get_sort()
        first = SORTS[key][1][0]
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


SPEND_ENTRIES_SHOWN = 50


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
        costs = stats.costs(filters, funnel)
        entries = campaign.spend_entries.select_related("created_by")
        context.update(
            form=form,
            filters=filters,
            funnel=funnel,
            steps=definitions.funnel_steps(funnel),
            spend_in_period=costs["spend"],
            cost_per_lead=costs["cost_per_lead"],
            cost_per_won=costs["cost_per_won"],
            lifetime_spend=spend.lifetime_spend_of(campaign),
            spend_entries=list(entries[:SPEND_ENTRIES_SHOWN]),
            spend_entries_count=entries.count(),
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
        context.setdefault("spend_form", SpendEntryForm())
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


@login_required
@require_POST
@role_required(roles.can_market, gettext_lazy("Only marketers and managers can record spend."))
def spend_add(request, pk):
    """Record a spend entry from the campaign page; a refused one shows the page again with
    the form's errors."""
    campaign = get_object_or_404(Campaign, pk=pk)
    form = SpendEntryForm(request.POST)
    if form.is_valid():
        try:
            services.spend_entry_add(campaign=campaign, by=request.user, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Spend recorded."))
            return redirect(campaign.get_absolute_url() + "#spend")
    view = CampaignDetailView(request=request, kwargs={"pk": pk}, object=campaign)
    context = view.get_context_data(object=campaign, spend_form=form)
    return render(request, view.template_name, context, status=400)


@login_required
@require_POST
@role_required(roles.can_market, gettext_lazy("Only marketers and managers can record spend."))
def spend_delete(request, pk, entry):
    entry = get_object_or_404(SpendEntry, pk=entry, campaign_id=pk)
    return run_action(
        request,
        lambda: services.spend_entry_delete(entry=entry, by=request.user),
        success=_("Spend entry deleted."),
        back=reverse("campaigns:detail", args=[pk]) + "#spend",
    )


@login_required
@role_required(roles.can_market, gettext_lazy("Only marketers and managers can record spend."))
def spend_upload(request):
    """Spend from a CSV (date, campaign, amount): every bad row is reported with its line
    number and nothing is written, unless the user then confirms importing the good rows."""
    form = SpendUploadForm(request.POST or None, request.FILES or None)
    context = {"form": form, "headers": spend_csv.HEADERS}
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        text = spend_csv.decode(upload.read()) if upload else form.cleaned_data["content"]
        report = spend_csv.read(text)
        skip = form.cleaned_data["skip_invalid"] and not upload
        if report.error or (report.problems and not skip):
            context.update(report=report, content=text)
            status = 400
        else:
            written = services.spend_import(by=request.user, rows=report.rows)
            messages.success(
                request,
                _("%(n)s spend entries imported, %(skipped)s bad rows left out.")
                % {"n": written, "skipped": len(report.problems)},
            )
            return redirect("campaigns:spend_upload")
    return render(request, "campaigns/spend_upload.html", context, status=status)
