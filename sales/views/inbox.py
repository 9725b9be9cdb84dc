"""The rep's inbox: what needs a response, what is due today, what is in progress, the
unassigned queue."""

from django.contrib.auth.decorators import login_required
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.shortcuts import render
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.http import forbidden
from leads.models import (
    SALES_STAGES,
    WORKING_STAGES,
    Lead,
    Stage,
)

from ..models import Handoff
from .helpers import QUEUE_LIMIT, attach_flags, choices, rep_choices, today_bounds

# Each inbox section shows this many rows and links to the full list beyond.
SECTION_LIMIT = 50


# --- the rep's inbox -----------------------------------------------------------------


@login_required
def inbox(request):
    """A rep's home: what needs a response, what is due, what is in progress, and the
    unassigned queue. A fixed number of queries whatever the number of leads."""
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("The sales inbox is for salespeople and managers."))
    now, end_of_today = today_bounds()
    scoped = Lead.objects.for_user(user)
    mine = scoped.filter(owner=user, stage__in=SALES_STAGES).select_related("campaign")
    awaiting = list(
        mine.filter(stage=Stage.HANDED_OFF).order_by(
            F("response_due_at").asc(nulls_last=True), "last_handed_off_at", "id"
        )[:SECTION_LIMIT]
    )
    # The most overdue first, then the ones still to come today, in one query: the rest of
    # today comes first in SQL so that a long overdue backlog cannot hide this afternoon's
    # call, and Python puts them in time order.
    due = list(
        mine.filter(next_follow_up_at__lt=end_of_today)
        .alias(
            later_today=Case(
                When(next_follow_up_at__gte=now, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("-later_today", "next_follow_up_at", "id")[: 2 * SECTION_LIMIT]
    )
    overdue = [lead for lead in due if lead.next_follow_up_at < now][:SECTION_LIMIT]
    due = overdue + [lead for lead in due if lead.next_follow_up_at >= now][:SECTION_LIMIT]
    # Disjoint from "due": a lead whose follow-up is due today is listed there only.
    later = Q(next_follow_up_at__isnull=True) | Q(next_follow_up_at__gte=end_of_today)
    working = list(
        mine.filter(later, stage__in=WORKING_STAGES).order_by(
            F("next_follow_up_at").asc(nulls_last=True), "-last_handed_off_at", "id"
        )[:SECTION_LIMIT]
    )
    # A lead the assignment rules left in a team's queue says which team: its reps were
    # called for it (sales.routing.call_team).
    queue_team = Handoff.objects.filter(lead=OuterRef("pk"), outcome="", to_user__isnull=True)
    queue = list(
        scoped.unassigned_queue()
        .select_related("campaign")
        .annotate(
            queue_team=Subquery(queue_team.order_by("-handed_at", "-id").values("team__name")[:1])
        )
        .order_by("last_handed_off_at", "id")[:QUEUE_LIMIT]
    )
    is_mine = Q(owner=user, stage__in=SALES_STAGES)
    in_queue = Q(stage=Stage.HANDED_OFF, owner__isnull=True)
    counts = scoped.filter(is_mine | in_queue).aggregate(
        awaiting=Count("pk", filter=is_mine & Q(stage=Stage.HANDED_OFF)),
        response_overdue=Count(
            "pk", filter=is_mine & Q(stage=Stage.HANDED_OFF, response_due_at__lt=now)
        ),
        due=Count("pk", filter=is_mine & Q(next_follow_up_at__lt=end_of_today)),
        follow_up_overdue=Count("pk", filter=is_mine & Q(next_follow_up_at__lt=now)),
        working=Count("pk", filter=is_mine & Q(stage__in=WORKING_STAGES)),
        later=Count("pk", filter=is_mine & later & Q(stage__in=WORKING_STAGES)),
        queue=Count("pk", filter=in_queue),
    )
    attach_flags(awaiting, due, working, queue)
    context = {
        "awaiting": awaiting,
        "due": due,
        "working": working,
        "queue": queue,
        "counts": counts,
        "now": now,
        "end_of_today": end_of_today,
        "section_limit": SECTION_LIMIT,
        "can_claim": roles.is_rep(user),
        "can_assign": roles.is_manager(user),
        "reps": rep_choices() if roles.is_manager(user) and queue else [],
        "sales_choices": choices(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/inbox.html", context)
