"""The rep's inbox: what needs a response, what is due today, what is in progress, the
unassigned queue."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import F, OuterRef, Subquery
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.dates import today_bounds
from leadflow.http import forbidden
from leads.filters import capped_counts
from leads.models import Lead

from ..models import Handoff
from .helpers import attach_flags, choices, rep_choices

# Each inbox section shows its most urgent this many and links to the whole section in
# the lead list. Every section reads an index in its order (leads/models/lead.py,
# lead_inbox_*_idx and lead_unassigned_queue_idx), so the page costs the same whether a
# rep holds 30 leads or 200,000.
SECTION_LIMIT = 25
# A section's count stops here ("1,000+"): past a thousand the number changes nothing for
# the rep, and each count reads at most this many index entries. The "show all" list
# counts on, to its own cap.
COUNT_CAP = 1_000

# Most urgent first, per section; each ends in "id" so the order is total.
AWAITING_ORDER = (F("response_due_at").asc(nulls_last=True), "last_handed_off_at", "id")
FOLLOW_UP_ORDER = ("next_follow_up_at", "id")
WORKING_ORDER = ("follow_up_or_never", "-last_handed_off_at", "id")
QUEUE_ORDER = ("last_handed_off_at", "id")


def show_all_url(section, *, mine=True):
    """The lead list filtered to one inbox section (LeadFilterForm's ``section``)."""
    params = {"owner": "me", "section": section} if mine else {"section": section}
    return f"{reverse('leads:list')}?{urlencode(params)}"


# --- the rep's inbox -----------------------------------------------------------------


@login_required
def inbox(request):
    """A rep's home: what needs a response, what is due, what is in progress, and the
    unassigned queue. A fixed number of queries, each an index range, whatever the number
    of leads."""
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("The sales inbox is for salespeople and managers."))
    now, end_of_today = today_bounds()
    scoped = Lead.objects.for_user(user)
    # A rep's or a manager's own leads are within their scope (for_user); filtering on the
    # owner alone keeps each section one index range (the scope's OR would split it).
    mine = Lead.objects.filter(owner=user)
    rows = mine.select_related("campaign")
    awaiting = list(rows.awaiting_response().order_by(*AWAITING_ORDER)[:SECTION_LIMIT])
    # The most overdue, then the rest of today in time order, each its own index range: a
    # long overdue backlog cannot hide this afternoon's call.
    overdue = list(rows.follow_ups_due(now).order_by(*FOLLOW_UP_ORDER)[:SECTION_LIMIT])
    later_today = list(
        rows.follow_ups_due(end_of_today)
        .filter(next_follow_up_at__gte=now)
        .order_by(*FOLLOW_UP_ORDER)[:SECTION_LIMIT]
    )
    # Next follow-up first, then those with none scheduled (latest handoff first).
    working = list(rows.in_progress(end_of_today).order_by(*WORKING_ORDER)[:SECTION_LIMIT])
    # A lead the assignment rules left in a team's queue says which team: its reps were
    # called for it (sales.routing.call_team).
    queue_team = Handoff.objects.filter(lead=OuterRef("pk"), outcome="", to_user__isnull=True)
    queue = list(
        scoped.unassigned_queue()
        .select_related("campaign")
        .annotate(
            queue_team=Subquery(queue_team.order_by("-handed_at", "-id").values("team__name")[:1])
        )
        .order_by(*QUEUE_ORDER)[:SECTION_LIMIT]
    )
    counts = capped_counts(
        {
            "awaiting": mine.awaiting_response(),
            "response_overdue": mine.awaiting_response().filter(response_due_at__lt=now),
            "due": mine.follow_ups_due(end_of_today),
            "follow_up_overdue": mine.follow_ups_due(now),
            "later": mine.in_progress(end_of_today),
            "queue": scoped.unassigned_queue(),
        },
        cap=COUNT_CAP,
    )
    attach_flags(awaiting, overdue, later_today, working, queue)
    context = {
        "awaiting": awaiting,
        "due": overdue + later_today,
        "working": working,
        "queue": queue,
        "counts": counts,
        "show_all": {
            "awaiting": show_all_url("awaiting"),
            "due": show_all_url("follow_up_due"),
            "working": show_all_url("in_progress"),
            "queue": show_all_url("queue", mine=False),
        },
        "now": now,
        "end_of_today": end_of_today,
        "section_limit": SECTION_LIMIT,
        "overdue_hidden": counts["follow_up_overdue"] > len(overdue),
        "can_claim": roles.is_rep(user),
        "can_assign": roles.is_manager(user),
        "reps": rep_choices() if roles.is_manager(user) and queue else [],
        "sales_choices": choices(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/inbox.html", context)
