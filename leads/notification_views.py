"""The bell's pages: a user's notifications, opening one, marking all read. A
notification about a lead opens only while the lead is still the user's to see
(``Lead.objects.for_user``), so the lead app owns these pages."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadflow.models import Notification

from .models import Lead

NOTIFICATIONS_PER_PAGE = 30


def opens_lead(notification):
    """The notification points at its lead's page (not at a page of its own, such as a
    dispute's ruling, which checks who may see it)."""
    if not notification.lead_id:
        return False
    target = notification.url.split("#")[0]
    return not target or target == reverse("leads:detail", args=[notification.lead_id])


@login_required
def notifications(request):
    """The user's notifications, newest first. Opening the list marks the ones shown read;
    they stay highlighted as new on this rendering."""
    mine = Notification.objects.filter(user=request.user, in_app=True)
    page = Paginator(
        mine.select_related("lead", "actor").order_by("-created_at", "-id"),
        NOTIFICATIONS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    unread_ids = [n.pk for n in shown if n.read_at is None]
    # A lead reassigned away from this user is no longer theirs to open: no dead link.
    visible = set(
        Lead.objects.for_user(request.user)
        .filter(pk__in={n.lead_id for n in shown if opens_lead(n)})
        .values_list("pk", flat=True)
    )
    for n in shown:
        n.was_unread = n.read_at is None
        n.can_open = n.lead_id in visible if opens_lead(n) else bool(n.url)
    if unread_ids:
        mine.filter(pk__in=unread_ids, read_at__isnull=True).update(read_at=timezone.now())
    # Unread beyond this page (older ones); the bell below counts after the update.
    still_unread = mine.filter(read_at__isnull=True).count() if unread_ids else 0
    context = {"notifications": shown, "page": page, "still_unread": still_unread}
    return render(request, "leadflow/notification_list.html", context)


@login_required
def notification_open(request, pk):
    """Mark one notification read and go where it points (only ever within this site)."""
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    if opens_lead(notification) and not (
        Lead.objects.for_user(request.user).filter(pk=notification.lead_id).exists()
    ):
        messages.info(request, _("That lead is no longer yours to open."))
        return redirect("notifications")
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("notifications")
    return redirect(target)


@login_required
@require_POST
def notifications_read(request):
    Notification.objects.filter(user=request.user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return redirect("notifications")
