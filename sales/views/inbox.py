"""The rep's Today (their home, /sales/): what they missed this morning, what is due
today, what awaits their response, the backlog and what is new in the queue."""

import datetime as dt
import math
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import EmptyResultSet
from django.db.models import F, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.dates import start_of_day, today_bounds
from leadflow.http import forbidden
from leads.filters import CappedCount, capped_counts
from leads.models import Flag, Lead, Stage
from leads.models.lead import NEVER

from ..forms import SnoozeForm
from ..models import Handoff, Task, TaskKind
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
TASK_ORDER = ("due_at", "id")
LATEST_FIRST = ("-next_follow_up_at", "-id")
QUEUE_ORDER = ("last_handed_off_at", "id")
# The columns Today's rows read of a lead (the lead cell, its deadlines, its row forms,
# the section a row belongs to) of the lead's 73: reading all of them for 150 rows cost
# 13-18 ms of the page at 1M leads (118.5 -> 100.9 ms). A row that read another column
# would cost a query of its own, which the page's query-count tests catch.
ROW_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "origin",
    "stage",
    "owner",
    "campaign__name",
    "next_follow_up_at",
    "response_due_at",
    "last_handed_off_at",
)


def show_all_url(section=None, *, mine=True, **bounds):
    """The lead list filtered to one inbox section (LeadFilterForm's ``section``) and the
    given bounds (``follow_up_before=<moment>`` ...)."""
    params = {"owner": "me"} if mine else {}
    if section:
        params["section"] = section
    for name, value in bounds.items():
        params[name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return f"{reverse('leads:list')}?{urlencode(params)}"


# --- the rep's Today ------------------------------------------------------------------


@dataclass
class Item:
    """One row of Today: a lead's follow-up, an open task or a flag, at its moment."""

    kind: str  # follow_up, task, flag
    at: dt.datetime
    lead: Lead
    obj: object = None


def _items(kind, rows):
    if kind == "follow_up":
        return [Item(kind, lead.next_follow_up_at, lead) for lead in rows]
    if kind == "task":
        return [Item(kind, task.due_at, task.lead, task) for task in rows]
    return [Item(kind, flag.raised_at, flag.lead, flag) for flag in rows]


def _merged(*item_lists, reverse=False):
    """The items of several index-ordered lists in one order, the first SECTION_LIMIT."""
    items = sorted(
        (item for items in item_lists for item in items),
        key=lambda item: (item.at, item.kind, item.lead.pk),
        reverse=reverse,
    )
    return items[:SECTION_LIMIT]


def today_querysets(user, now, start_of_today, end_of_today):
    """Each Today section's querysets, the one definition its rows, its count and its
    "show all" link read. Each is one range of an index in its order: follow-ups on
    lead_inbox_follow_up_idx, tasks on task_open_user_due_idx, flags on
    flag_open_resp_raised_idx, the queue on lead_unassigned_queue_idx."""
    mine = Lead.objects.filter(owner=user)
    tasks = Task.objects.filter(user=user, completed_at__isnull=True)
    since_yesterday = start_of_day(start_of_today.date() - dt.timedelta(days=1))
    return {
        "missed_follow_ups": mine.follow_ups_due(now).filter(
            next_follow_up_at__gte=start_of_today
        ),
        "missed_tasks": tasks.filter(due_at__gte=start_of_today, due_at__lt=now),
        "missed_flags": Flag.objects.missed_by(user, since_yesterday),
        "due_follow_ups": mine.follow_ups_due(end_of_today).filter(next_follow_up_at__gte=now),
        "due_tasks": tasks.filter(due_at__gte=now, due_at__lt=end_of_today),
        "awaiting": mine.awaiting_response(),
        "response_overdue": mine.awaiting_response().filter(response_due_at__lt=now),
        "backlog_follow_ups": mine.follow_ups_due(start_of_today),
        "backlog_tasks": tasks.filter(due_at__lt=start_of_today),
        "queue_new": Lead.objects.for_user(user)
        .unassigned_queue()
        .filter(last_handed_off_at__gte=since_yesterday),
        # Being worked with nothing due today: next follow-up later, or none scheduled
        # (lead_inbox_in_progress_idx). Nothing the rep holds drops out of Today unseen.
        "in_progress": mine.in_progress(end_of_today),
    }, since_yesterday


@login_required
def inbox(request):
    """A rep's Today: missed today (follow-ups and tasks due earlier today, flags raised
    since yesterday), due today by time, awaiting their response (most urgent deadline
    first), the backlog (most overdue first) and new in the queue since yesterday. Each
    section its first 25, a capped count and a "show all" link; a fixed number of
    queries, each an index range, whatever the number of leads."""
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("The sales inbox is for salespeople and managers."))
    now, end_of_today = today_bounds()
    start_of_today = start_of_day(timezone.localdate(now))
    qs, since_yesterday = today_querysets(user, now, start_of_today, end_of_today)
    n = SECTION_LIMIT

    # Each section's first 25 follow-ups (and tasks) are one index range; the three
    # ranges are read in one query (an IN of each LIMITed range), then told apart.
    # Missed: the latest 25 of earlier today; due: the next 25; backlog: the most overdue.
    rows = Lead.objects.select_related("campaign").only(*ROW_FIELDS)
    follow_ups = _ranges(
        rows,
        {
            "missed": (qs["missed_follow_ups"], LATEST_FIRST),
            "due": (qs["due_follow_ups"], FOLLOW_UP_ORDER),
            "backlog": (qs["backlog_follow_ups"], FOLLOW_UP_ORDER),
        },
        _by_moment(lambda lead: lead.next_follow_up_at, start_of_today, now),
    )
    tasks = _ranges(
        Task.objects.select_related("lead__campaign"),
        {
            "missed": (qs["missed_tasks"], ("-due_at", "-id")),
            "due": (qs["due_tasks"], TASK_ORDER),
            "backlog": (qs["backlog_tasks"], TASK_ORDER),
        },
        _by_moment(lambda task: task.due_at, start_of_today, now),
    )
    flags = list(
        qs["missed_flags"].select_related("lead__campaign").order_by("-raised_at", "-id")[:n]
    )
    # Earlier today, latest first: the follow-up missed at 09:31 leads the page, however
    # long the backlog below it.
    missed = _merged(
        _items("follow_up", follow_ups["missed"]),
        _items("task", tasks["missed"]),
        _items("flag", flags),
        reverse=True,
    )
    due = _merged(_items("follow_up", follow_ups["due"]), _items("task", tasks["due"]))
    # Most overdue first (oldest due moment first).
    backlog = _merged(_items("follow_up", follow_ups["backlog"]), _items("task", tasks["backlog"]))
    # Awaiting, in progress and the queue are disjoint sets of leads (handed off to the
    # rep; theirs in a working stage; no rep): their first 25 each in one query, as above.
    queue_team = Handoff.objects.filter(lead=OuterRef("pk"), outcome="", to_user__isnull=True)
    leads = _ranges(
        rows.annotate(
            queue_team=Subquery(queue_team.order_by("-handed_at", "-id").values("team__name")[:1])
        ),
        {
            "awaiting": (qs["awaiting"], AWAITING_ORDER),
            "in_progress": (qs["in_progress"], WORKING_ORDER),
            "queue": (qs["queue_new"], QUEUE_ORDER),
        },
        lambda lead: (
            "queue"
            if lead.owner_id is None
            else "awaiting"
            if lead.stage == Stage.HANDED_OFF
            else "in_progress"
        ),
    )
    awaiting = sorted(leads["awaiting"], key=_awaiting_key)
    in_progress = sorted(leads["in_progress"], key=_in_progress_key)
    queue = sorted(leads["queue"], key=lambda lead: (lead.last_handed_off_at, lead.pk))
    # Each count in its section's index order, so each reads at most COUNT_CAP + 1 entries.
    orders = {
        "missed_follow_ups": FOLLOW_UP_ORDER,
        "due_follow_ups": FOLLOW_UP_ORDER,
        "backlog_follow_ups": FOLLOW_UP_ORDER,
        "missed_tasks": TASK_ORDER,
        "due_tasks": TASK_ORDER,
        "backlog_tasks": TASK_ORDER,
        "awaiting": AWAITING_ORDER,
        "response_overdue": AWAITING_ORDER,
        "in_progress": WORKING_ORDER,
        "queue_new": QUEUE_ORDER,
    }
    raw = capped_counts(
        {name: qs[name].order_by(*orders[name]) if name in orders else qs[name] for name in qs},
        cap=COUNT_CAP,
    )
    counts = {
        "missed": _sum(raw["missed_follow_ups"], raw["missed_tasks"], raw["missed_flags"]),
        # The missed section's link to the lead list counts the follow-ups it lists.
        "missed_follow_ups": raw["missed_follow_ups"],
        "missed_flags": raw["missed_flags"],
        "due": _sum(raw["due_follow_ups"], raw["due_tasks"]),
        "awaiting": raw["awaiting"],
        "response_overdue": raw["response_overdue"],
        "backlog": _sum(raw["backlog_follow_ups"], raw["backlog_tasks"]),
        "queue": raw["queue_new"],
        "in_progress": raw["in_progress"],
    }
    attach_flags([i.lead for i in missed + due + backlog], awaiting, queue, in_progress)
    sections = {"missed": missed, "due": due, "backlog": backlog}
    for items in sections.values():
        for item in items:
            item.row_id = f"{item.kind}-{item.obj.pk if item.obj is not None else item.lead.pk}"
    context = {
        **sections,
        "awaiting": awaiting,
        "queue": queue,
        "in_progress": in_progress,
        "counts": counts,
        "show_all": {
            "missed": show_all_url(
                "follow_up_due", follow_up_after=start_of_today, follow_up_before=now
            ),
            "missed_flags": show_all_url(flag="any", flag_since=since_yesterday),
            "due": show_all_url(
                "follow_up_due", follow_up_after=now, follow_up_before=end_of_today
            ),
            "awaiting": show_all_url("awaiting"),
            "backlog": show_all_url("follow_up_due", follow_up_before=start_of_today),
            "queue": show_all_url("queue", mine=False, queue_since=since_yesterday),
            "in_progress": show_all_url("in_progress"),
        },
        "now": now,
        "end_of_today": end_of_today,
        "section_limit": SECTION_LIMIT,
        "can_claim": roles.is_rep(user),
        "can_assign": roles.is_manager(user),
        "reps": rep_choices() if roles.is_manager(user) and queue else [],
        "sales_choices": choices(),
        "snooze_choices": SnoozeForm.SNOOZE_CHOICES,
        # Choice labels read once per page, not through get_FOO_display() on every row.
        "stage_labels": {value: str(label) for value, label in Stage.choices},
        "task_kind_labels": {value: str(label) for value, label in TaskKind.choices},
        "here": request.get_full_path(),
        "next_query": urlencode({"next": request.get_full_path()}),
    }
    return render(request, "sales/inbox.html", context)


def _ranges(base, parts, section_of):
    """{name: the first SECTION_LIMIT rows of each (queryset, order) of ``parts``}, read
    in one query: ``pk IN (range 1 UNION ALL range 2 ...)``, each range a LIMITed index
    scan. (An OR of three INs made PostgreSQL walk the whole table.) The parts are
    disjoint; ``section_of(row)`` names the part a row came from. Rows come in no order."""
    selects, params = [], []
    for i, (qs, order) in enumerate(parts.values()):
        try:
            sql, sql_params = (
                qs.order_by(*order).values("pk")[:SECTION_LIMIT].query.sql_with_params()
            )
        except EmptyResultSet:
            continue
        # A derived table: SQLite allows no LIMIT directly in a compound statement.
        selects.append(f"SELECT * FROM ({sql}) part_{i}")
        params.extend(sql_params)
    out = {name: [] for name in parts}
    if not selects:
        return out
    for row in base.filter(pk__in=RawSQL(" UNION ALL ".join(selects), params)).order_by():
        out[section_of(row)].append(row)
    return out


def _by_moment(moment, start_of_today, now):
    """A follow-up's or task's part by its moment, split at the start of today and now:
    backlog, missed, due (each part's rows in order of that moment)."""

    def section_of(row):
        at = moment(row)
        return "backlog" if at < start_of_today else "missed" if at < now else "due"

    return section_of


# The Python twins of AWAITING_ORDER and WORKING_ORDER, for rows read in one query
# (PostgreSQL sorts NULLs last ascending and first descending).
def _awaiting_key(lead):
    due = lead.response_due_at
    return (due is None, due or NEVER, lead.last_handed_off_at or NEVER, lead.pk)


def _in_progress_key(lead):
    handed = lead.last_handed_off_at.timestamp() if lead.last_handed_off_at else math.inf
    return (lead.next_follow_up_at or NEVER, -handed, lead.pk)


def _sum(*counts):
    """Capped counts added up: capped when any of them is."""
    total = sum(int(count) for count in counts)
    result = CappedCount(total, total)
    result.capped = any(count.capped for count in counts)
    return result
