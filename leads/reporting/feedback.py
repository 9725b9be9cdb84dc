"""Feedback to marketing: what sales did with each campaign's leads (issue 3 §8)."""

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.shortcuts import render
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.http import forbidden
from leads.filters import PeriodForm
from leads.metrics import ACCEPTED_HANDED
from leads.models import Flag, Lead, LostReason, RejectionReason, Side, Stage
from sales.models import Handoff, Objection, ObjectionTag

from .models import Campaign, Channel

COUNTS = {
    "generated": Count("id"),
    "handed_off": Count("id", filter=Q(handed_off_at__isnull=False)),
    "accepted": Count("id", filter=Q(accepted_at__isnull=False)),
    "accepted_handed": Count("id", filter=ACCEPTED_HANDED),
    "rejected": Count("id", filter=Q(rejected_at__isnull=False)),
    "contacted": Count("id", filter=Q(first_contact_at__isnull=False)),
    "won": Count("id", filter=Q(stage=Stage.WON)),
    "lost": Count("id", filter=Q(stage=Stage.LOST)),
    "won_value": Sum("deal_value", filter=Q(stage=Stage.WON)),
}


def _matrix(rows, key, column):
    table = defaultdict(dict)
    for row in rows:
        table[row[key]][row[column]] = row["n"]
    return table


@login_required
def feedback(request):
    if not roles.can_market(request.user):
        return forbidden(request, _("Only marketers and managers can see this page."))
    form = PeriodForm(request.GET or None)
    cohort = form.cohort(Lead.objects.all())
    campaigns = {c.pk: c for c in Campaign.objects.all()}

    by_campaign = list(cohort.values("campaign").annotate(**COUNTS).order_by("-generated"))
    by_channel = list(cohort.values("campaign__channel").annotate(**COUNTS).order_by("-generated"))
    rejections = _matrix(
        Handoff.objects.filter(outcome="rejected", lead__in=cohort.values("pk"))
        .values("lead__campaign", "rejection_reason")
        .annotate(n=Count("id"))
        .order_by(),
        "lead__campaign",
        "rejection_reason",
    )
    lost = _matrix(
        cohort.filter(stage=Stage.LOST)
        .values("campaign", "lost_reason")
        .annotate(n=Count("id"))
        .order_by(),
        "campaign",
        "lost_reason",
    )
    objections = _matrix(
        Objection.objects.filter(lead__in=cohort.values("pk"))
        .values("lead__campaign", "tag")
        .annotate(n=Count("id"))
        .order_by(),
        "lead__campaign",
        "tag",
    )
    flags = dict(
        Flag.objects.open()
        .filter(side=Side.MARKETING, lead__in=cohort.values("pk"))
        .values("lead__campaign")
        .annotate(n=Count("id"))
        .values_list("lead__campaign", "n")
    )
    for row in by_campaign:
        cid = row["campaign"]
        campaign = row["campaign_obj"] = campaigns.get(cid)
        row["label"] = campaign.name if campaign else _("No campaign (sales-generated)")
        row["rejections"] = [rejections.get(cid, {}).get(r, 0) for r in RejectionReason.values]
        row["lost_reasons"] = [lost.get(cid, {}).get(r, 0) for r in LostReason.values]
        row["objections"] = [objections.get(cid, {}).get(t, 0) for t in ObjectionTag.values]
        row["open_flags"] = flags.get(cid, 0)
        row["acceptance_rate"] = (
            row["accepted_handed"] / row["handed_off"] if row["handed_off"] else None
        )
    for row in by_channel:
        row["label"] = (
            Channel(row["campaign__channel"]).label
            if row["campaign__channel"]
            else _("No campaign (sales-generated)")
        )
        row["acceptance_rate"] = (
            row["accepted_handed"] / row["handed_off"] if row["handed_off"] else None
        )

    waiting = list(
        Lead.objects.filter(stage=Stage.REJECTED)
        .select_related("campaign")
        .order_by("rejected_at", "id")[:50]
    )
    open_by_lead = defaultdict(list)
    for flag in Flag.objects.open().filter(lead__in=[w.pk for w in waiting]):
        open_by_lead[flag.lead_id].append(flag)
    for lead in waiting:
        lead.open_flags = open_by_lead.get(lead.pk, [])
    start, end = form.period()
    return render(
        request,
        "campaigns/feedback.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "by_campaign": by_campaign,
            "by_channel": by_channel,
            "rejection_reasons": RejectionReason.choices,
            "lost_reasons": LostReason.choices,
            "objection_tags": ObjectionTag.choices,
            "waiting": waiting,
            "waiting_total": Lead.objects.filter(stage=Stage.REJECTED).count(),
        },
    )
