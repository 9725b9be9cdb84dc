"""The rep's day outside the inbox: completing a task, and the calendar feed (an
iCalendar address with a secret token that Google Calendar or Outlook subscribes to)."""

import datetime as dt
import hashlib
import hmac

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from leadflow import roles
from leadflow.errors import ActionForbidden, LeadflowError
from leadflow.http import forbidden, safe_next
from leadflow.i18n import user_language
from leads.models import SALES_STAGES, Lead

from .. import services
from ..models import CalendarFeed, Task
from .actions import wants_json_answer

# The feed carries the open follow-ups and tasks from this far back (a missed one still
# shows in the calendar) up to the follow-up horizon; at most FEED_LIMIT of each.
FEED_PAST = dt.timedelta(days=30)
FEED_LIMIT = 500
EVENT_LENGTH = dt.timedelta(minutes=15)


@login_required
@require_POST
def task_complete(request, pk):
    """Complete one of the user's open tasks (a manager: anyone's)."""
    task = get_object_or_404(Task.objects.for_user(request.user).select_related("lead"), pk=pk)
    back = safe_next(request, reverse("sales:inbox"))
    try:
        services.task_complete(task=task, by=request.user)
    except ActionForbidden as exc:
        if wants_json_answer(request):
            return JsonResponse({"detail": exc.message}, status=403)
        return forbidden(request, exc.message)
    except LeadflowError as exc:
        if wants_json_answer(request):
            return JsonResponse({"detail": exc.message}, status=409)
        messages.error(request, exc.message)
        return redirect(back)
    message = _("Task done: %(title)s.") % {"title": task.title}
    if wants_json_answer(request):
        return JsonResponse({"detail": message, "ok": True})
    messages.success(request, message)
    return redirect(back)


# --- the calendar feed -------------------------------------------------------------


@login_required
def calendar_settings(request):
    """The user's calendar address: make a new one (the old one stops working) or revoke
    it. The address holds the secret; it is shown once, in the answer that made it."""
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("The calendar feed is for salespeople and managers."))
    feed_url = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            services.calendar_feed_revoke(user=user)
            messages.success(request, _("Calendar address revoked: it no longer works."))
            return redirect("sales:calendar_settings")
        token = services.calendar_feed_renew(user=user)
        feed_url = request.build_absolute_uri(reverse("sales:calendar_feed", args=[token]))
    has_feed = CalendarFeed.objects.filter(user=user).exists()
    response = render(
        request, "sales/calendar_settings.html", {"feed_url": feed_url, "has_feed": has_feed}
    )
    if feed_url:
        response["Cache-Control"] = "no-store"
    return response


def _feed_user(token):
    digest = hashlib.sha256(token.encode()).hexdigest()
    feed = (
        CalendarFeed.objects.select_related("user", "user__profile")
        .filter(token_hash=digest)
        .first()
    )
    # The lookup is by digest; the comparison again in constant time guards the equality.
    if feed is None or not hmac.compare_digest(feed.token_hash, digest):
        return None
    if not feed.user.is_active or not roles.can_work_sales(feed.user):
        return None
    return feed.user


def _escape(text):
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line):
    """RFC 5545 §3.1: lines of at most 75 octets, continued with a leading space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, chunk = [], b""
    for char in line:
        encoded = char.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def _utc(moment):
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_events(user, now):
    """(uid, start, summary, url path, description) of ``user``'s open follow-ups and tasks,
    on lead_inbox_follow_up_idx and task_open_user_due_idx."""
    since = now - FEED_PAST
    leads = (
        Lead.objects.filter(owner=user, stage__in=SALES_STAGES, next_follow_up_at__gte=since)
        .order_by("next_follow_up_at", "id")
        .only("id", "first_name", "last_name", "company", "next_follow_up_at")[:FEED_LIMIT]
    )
    for lead in leads:
        yield (
            f"follow-up-{lead.pk}@leadflow",
            lead.next_follow_up_at,
            _("Follow up: %(lead)s") % {"lead": lead.full_name},
            lead.get_absolute_url(),
            lead.company,
        )
    tasks = (
        Task.objects.filter(user=user, completed_at__isnull=True, due_at__gte=since)
        .select_related("lead")
        .order_by("due_at", "id")[:FEED_LIMIT]
    )
    for task in tasks:
        yield (
            f"task-{task.pk}@leadflow",
            task.due_at,
            f"{task.title}: {task.lead.full_name}",
            task.lead.get_absolute_url(),
            task.get_kind_display(),
        )


@require_GET
def calendar_feed(request, token):
    """The rep's open follow-ups and tasks as iCalendar (RFC 5545), for calendar
    subscription: no login, the token is the credential; a revoked token is a 404. A
    follow-up's UID names its lead (a snoozed follow-up moves, it is not a new event).
    Written in the owner's language: the calendar app asks in its own, or in none."""
    user = _feed_user(token)
    if user is None:
        raise Http404
    with translation.override(user_language(user)):
        body = _feed_body(request, user)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="leadflow.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


def _feed_body(request, user):
    now = timezone.now()
    stamp = _utc(now)
    calendar_name = _("LeadFlow follow-ups")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//LeadFlow//Today//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(calendar_name)}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ]
    for uid, start, summary, path, description in calendar_events(user, now):
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(start)}",
            f"DTEND:{_utc(start + EVENT_LENGTH)}",
            f"SUMMARY:{_escape(summary)}",
            f"URL:{request.build_absolute_uri(path)}",
            *([f"DESCRIPTION:{_escape(description)}"] if description else []),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
