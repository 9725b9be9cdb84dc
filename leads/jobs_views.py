"""The managers' jobs page: background work that is stuck or failed, in one place.

The outbox backlog (leadflow/outbox.py), imports and deadline recomputes that stalled or
failed (leadflow/jobs.py), bulk actions running or failed, the last sweep; each with the
way to act on it: a stalled or failed import's (or bulk action's) page has its Retry, a
failed task is retried here.
"""

from datetime import timedelta

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from leadflow import jobs, outbox, roles, services
from leadflow.http import run_action
from leadflow.models import OutboxMessage
from leadflow.permissions import role_required

from .models import (
    ACTIVE_BULK,
    ACTIVE_IMPORT,
    BulkJob,
    BulkStatus,
    DeadlineRecompute,
    ImportJob,
    ImportStatus,
    SweepRun,
)

manager_required = role_required(
    roles.is_manager, gettext_lazy("Only managers can see the background jobs.")
)

# Failed imports of this long ago are still listed (older ones are history).
RECENT_FAILURES = timedelta(days=30)
LIST_LIMIT = 50


@manager_required
@require_GET
def jobs_page(request):
    now = timezone.now()
    stalled = jobs.stalled_q(now)
    imports = (
        ImportJob.objects.filter(status__in=ACTIVE_IMPORT)
        .filter(stalled)
        .select_related("created_by")
        .order_by("heartbeat_at")[:LIST_LIMIT]
    )
    failed_imports = (
        ImportJob.objects.filter(status=ImportStatus.FAILED, created_at__gte=now - RECENT_FAILURES)
        .select_related("created_by")
        .order_by("-created_at")[:LIST_LIMIT]
    )
    recomputes = (
        DeadlineRecompute.objects.filter(finished_at=None)
        .filter(stalled)
        .select_related("campaign", "requested_by")
        .order_by("requested_at")[:LIST_LIMIT]
    )
    # Bulk actions are listed while they run (a marketer's 1,000 leads take a while), and
    # once failed; the stalled ones say so.
    bulk_jobs = (
        BulkJob.objects.filter(status__in=ACTIVE_BULK)
        .select_related("created_by")
        .order_by("heartbeat_at")[:LIST_LIMIT]
    )
    failed_bulk = (
        BulkJob.objects.filter(status=BulkStatus.FAILED, created_at__gte=now - RECENT_FAILURES)
        .select_related("created_by")
        .order_by("-created_at")[:LIST_LIMIT]
    )
    failed_tasks = OutboxMessage.objects.filter(failed_at__isnull=False).order_by("-failed_at")[
        :LIST_LIMIT
    ]
    return render(
        request,
        "leads/jobs.html",
        {
            "section": "jobs",
            "backlog": outbox.backlog(now),
            "stalled_imports": list(imports),
            "failed_imports": list(failed_imports),
            "stalled_recomputes": list(recomputes),
            "bulk_jobs": list(bulk_jobs),
            "failed_bulk": list(failed_bulk),
            "failed_tasks": list(failed_tasks),
            "last_sweep": SweepRun.objects.order_by("-at").first(),
            "now": now,
        },
    )


@manager_required
@require_POST
def task_retry(request, message_id):
    back = reverse("leads:jobs")
    return run_action(
        request,
        lambda: services.outbox_message_retry(by=request.user, message_id=message_id),
        success=_("The task is queued again."),
        back=back,
    )
