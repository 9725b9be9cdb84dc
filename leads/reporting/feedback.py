"""Feedback to marketing: what sales did with each campaign's leads, by campaign and by
channel, with the reasons and objections behind it. Read from the statistics, so every
number equals the dashboard's for the same period and channel."""

from django.shortcuts import render
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.permissions import role_required
from sales.models import ObjectionTag

from ..models import Flag, Lead, LostReason, RejectionReason, Stage
from . import stats
from .forms import PeriodForm

NO_CAMPAIGN = gettext_lazy("No campaign (sales-generated)")


@role_required(roles.can_market, gettext_lazy("Only marketers and managers can see this page."))
def feedback(request):
    form = PeriodForm(request.GET or None, only=("start", "end", "channel"))
    filters = form.filters()
    current = stats.refresh(max_days=stats.INLINE_DAYS)
    campaigns = {c.pk: c for c in Campaign.objects.all()}

    by_campaign = stats.grouped(filters, "campaign")
    for row in by_campaign:
        campaign = row["campaign_obj"] = campaigns.get(row["campaign"])
        row["label"] = campaign.name if campaign else NO_CAMPAIGN
        row["rejections"] = [row[stats.REJECTION_COLUMNS[r]] for r in RejectionReason.values]
        row["lost_reasons"] = [row[stats.LOST_COLUMNS[r]] for r in LostReason.values]
        row["objections"] = [row[stats.OBJECTION_COLUMNS[t]] for t in ObjectionTag.values]
        row["open_flags"] = row["mflags_open"]
    by_channel = stats.grouped(filters, "campaign__channel")
    for row in by_channel:
        channel = row["campaign__channel"]
        row["label"] = Channel(channel).label if channel else NO_CAMPAIGN

    waiting = Flag.objects.attach_open(
        Lead.objects.filter(stage=Stage.REJECTED)
        .select_related("campaign")
        .order_by("rejected_at", "id")[:50]
    )
    return render(
        request,
        "campaigns/feedback.html",
        {
            "form": form,
            "start": filters.start,
            "end": filters.end,
            "stats_current": current,
            "stats_as_of": stats.refreshed_at(),
            "by_campaign": by_campaign,
            "by_channel": by_channel,
            "rejection_reasons": RejectionReason.choices,
            "lost_reasons": LostReason.choices,
            "objection_tags": ObjectionTag.choices,
            "waiting": waiting,
            "waiting_total": Lead.objects.filter(stage=Stage.REJECTED).count(),
        },
    )
