"""Marketing's actions on a whole filtered list (issue 20): qualify, nurture, disqualify or
hand off every lead of a set fixed when the user confirmed.

A small set runs in the request (``bulk_apply``, as the page's ticked rows always have);
a larger one is a ``BulkJob`` worked off by the ``leads.tasks.run_bulk_job`` task. Both go
lead by lead through the same single-lead services, each lead in its own transaction with
its own checks, so a lead whose stage changed since the confirmation is skipped with the
service's own refusal ("Cannot qualify this lead: it is at the “Won” stage.")."""

import logging

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leadflow import jobs, permissions, roles
from leadflow.bulk import bulk_insert
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError, TransitionNotAllowed
from leadflow.jobs import enqueue
from leadflow.outbox import DB_OUTAGE, retry_through_outage

from .. import services
from ..models import (
    ACTIVE_BULK,
    BulkAction,
    BulkJob,
    BulkJobLead,
    BulkOutcome,
    BulkStatus,
    DisqualifyReason,
)
from ..sla.calendar import SLA

logger = logging.getLogger(__name__)

# Up to this many leads the page runs the action in the request; above it, a job.
INLINE_MAX = 200
# The report names this many leads per reason (the CSV report has them all).
REPORT_LEADS_PER_REASON = 100
REPORT_REASONS = 20
# The most lead ids an API request may list (a filter selects any number).
MAX_IDS = 100_000
# Pending leads read per query by a run.
RUN_BATCH = 200


def bulk_params(*, action, reason="", mode="", to_user=None, note=""):
    """The JSON-able parameters of ``action`` (kept on a job), checked as the services
    would check them, so a bad request is refused before any lead is touched."""
    if action not in BulkAction.values:
        raise InvalidInput(_("Choose an action."), field="action")
    params = {"note": (note or "")[:500]}
    if action == BulkAction.DISQUALIFY:
        if reason not in DisqualifyReason.values:
            raise InvalidInput(_("Choose a reason for disqualifying."), field="reason")
        params["reason"] = reason
    if action == BulkAction.HAND_OFF:
        if mode not in services.HAND_OFF_MODES:
            raise InvalidInput(_("Choose whom to hand the leads off to."), field="to")
        if mode == services.HAND_OFF_REP:
            services.validate_rep(to_user)
        params["mode"] = mode
        params["to_user"] = to_user.pk if mode == services.HAND_OFF_REP else None
    return params


def service_call(action, params):
    """(single-lead service, its keywords but ``lead`` and ``by``) for a bulk action."""
    note = params.get("note") or ""
    if action == BulkAction.QUALIFY:
        return services.lead_qualify, {"note": note}
    if action == BulkAction.NURTURE:
        return services.lead_nurture, {"note": note}
    if action == BulkAction.DISQUALIFY:
        return services.lead_disqualify, {"reason": params.get("reason"), "note": note}
    mode = params.get("mode")
    to_user = None
    if mode == services.HAND_OFF_REP:
        to_user = get_user_model().objects.filter(pk=params.get("to_user")).first()
        if to_user is None:
            # Never to the queue by accident: the chosen rep is gone, so each lead is refused.
            return _refuse(InvalidInput(_("Choose an active salesperson."), field="to_user")), {}
    return services.lead_hand_off, services.hand_off_kwargs(mode=mode, to_user=to_user, note=note)


def _refuse(error):
    def call(**kwargs):
        raise error

    return call


def bulk_apply(*, by, action, params, lead_ids):
    """Run ``action`` on each lead now (a small set): (done, [(lead_id, message)])."""
    permissions.require_marketing(by)
    call, kwargs = service_call(action, params)
    return services.bulk(call, lead_ids, by=by, sla=SLA().preload(), **kwargs)


class SetChanged(TransitionNotAllowed):
    """The filters match another number of leads than the confirmation showed: nothing is
    done, and the user confirms the new number (``total``) or cancels."""

    def __init__(self, total, expected):
        self.total = total
        super().__init__(
            ngettext(
                "%(now)s lead matches these filters now, not %(then)s: confirm again.",
                "%(now)s leads match these filters now, not %(then)s: confirm again.",
                total,
            )
            % {
                "now": number_format(total, force_grouping=True),
                "then": number_format(expected, force_grouping=True),
            }
        )


@transaction.atomic
def bulk_job_create(
    *, by, action, params, leads=None, lead_ids=None, selection="", expected_total=None
):
    """Fix the set on a new job and queue its run: the leads of the queryset ``leads`` (the
    list's filters in the user's scope) as they match now, copied by one INSERT … SELECT,
    or the ids of ``lead_ids``. Refuses an empty set, a user who may not take marketing's
    actions, and a set of another size than ``expected_total`` (what the user confirmed,
    when given: SetChanged, and nothing is written)."""
    permissions.require_marketing(by)
    job = BulkJob.objects.create(
        created_by=by,
        action=action,
        params=params,
        selection=selection,
        status=BulkStatus.QUEUED,
        **jobs.queued(),
    )
    if leads is not None:
        total = _insert_matching(job, leads)
    else:
        lead_ids = sorted(set(lead_ids or ()))
        bulk_insert(BulkJobLead, [BulkJobLead(job=job, lead_id=pk) for pk in lead_ids])
        total = len(lead_ids)
    if not total:
        raise InvalidInput(_("No leads match, so there is nothing to do."), field="ids")
    if expected_total is not None and total != expected_total:
        raise SetChanged(total, expected_total)
    job.total = total
    job.save(update_fields=["total"])
    enqueue("leads.tasks.run_bulk_job", job.pk, language=translation.get_language())
    return job


def _insert_matching(job, leads):
    """Copy the ids ``leads`` selects into the job's set in the database: a million
    matching leads never pass through Python. Returns how many."""
    sql, params = leads.order_by().values("pk").distinct().query.sql_with_params()
    table = connection.ops.quote_name(BulkJobLead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (job_id, lead_id, outcome, reason) "
            # The subquery's one column is the lead id (its name is Django's to choose).
            f"SELECT %s, matching.*, %s, '' FROM ({sql}) matching",
            [job.pk, BulkOutcome.PENDING, *params],
        )
        return cursor.rowcount


def user_bulk_jobs(user):
    """The bulk jobs this user may see: their own; managers see all."""
    qs = BulkJob.objects.select_related("created_by")
    return qs if roles.is_manager(user) else qs.filter(created_by=user)


def bulk_job_run(job_id, *, batch_size=None):
    """Work off the job's pending leads in id order, each in its own transaction: the
    service call (its refusal rolls back only its own savepoint), the lead's outcome and
    the job's counters and heartbeat. A run that lost the job to another (the watchdog
    resumed it) stops before it commits anything more, and a lead already done is never
    done again. A lost database connection is raised for the task to retry; any other
    error marks the job failed."""
    batch_size = batch_size or RUN_BATCH
    token = jobs.claim_run(
        BulkJob.objects.filter(status__in=ACTIVE_BULK),
        job_id,
        status=BulkStatus.RUNNING,
        started_at=Coalesce(F("started_at"), Value(timezone.now(), DateTimeField())),
    )
    if token is None:
        return None
    job = BulkJob.objects.select_related("created_by").get(pk=job_id)
    call, kwargs = service_call(job.action, job.params)
    try:
        while True:
            batch = list(
                job.leads.filter(outcome=BulkOutcome.PENDING)
                .order_by("lead_id")
                .values_list("pk", "lead_id")[:batch_size]
            )
            if not batch:
                break
            # The actor afresh for each batch: a marketer demoted meanwhile is refused by
            # the services (each lead skipped with their message), not obeyed for hours.
            job.created_by = get_user_model().objects.get(pk=job.created_by_id)
            # The SLA policies read once per batch, not twice per lead.
            sla = SLA().preload()
            for row_pk, lead_id in batch:
                _run_one(job, token, row_pk, lead_id, call, {**kwargs, "sla": sla})
        with transaction.atomic():
            if not BulkJob.objects.filter(pk=job.pk, run_token=token).update(
                status=BulkStatus.DONE, finished_at=timezone.now(), run_token=None
            ):
                raise jobs.Superseded
    except jobs.Superseded:
        logger.info("bulk job %s: taken over by another run; this one stops", job_id)
        return None
    except DB_OUTAGE:
        retry_through_outage(
            lambda: BulkJob.objects.filter(pk=job_id, run_token=token).update(run_token=None)
        )
        raise
    except Exception as exc:
        logger.exception("bulk job %s failed", job_id)
        error = _("Stopped after %(done)s of %(total)s leads: %(error)s") % {
            "done": number_format(job.processed, force_grouping=True),
            "total": number_format(job.total, force_grouping=True),
            "error": exc,
        }
        retry_through_outage(
            lambda: BulkJob.objects.filter(pk=job_id, run_token=token).update(
                status=BulkStatus.FAILED, error=error, run_token=None
            )
        )
    return BulkJob.objects.get(pk=job_id)


def _run_one(job, token, row_pk, lead_id, call, kwargs):
    with transaction.atomic():
        try:
            call(lead=lead_id, by=job.created_by, **kwargs)
        except LeadflowError as exc:
            outcome, reason = BulkOutcome.SKIPPED, exc.message[:500]
        else:
            outcome, reason = BulkOutcome.MOVED, ""
        # Written only while the lead is still pending and this run still holds the job;
        # otherwise the whole transaction (the service's work too) is rolled back.
        if not BulkJobLead.objects.filter(pk=row_pk, outcome=BulkOutcome.PENDING).update(
            outcome=outcome, reason=reason
        ):
            raise jobs.Superseded
        moved = int(outcome == BulkOutcome.MOVED)
        if not jobs.heartbeat(
            BulkJob.objects,
            job.pk,
            token,
            processed=F("processed") + 1,
            moved_count=F("moved_count") + moved,
            skipped_count=F("skipped_count") + (1 - moved),
        ):
            raise jobs.Superseded
    job.processed += 1


def _requeue(job, **fields):
    for name, value in jobs.queued(**fields).items():
        setattr(job, name, value)
    job.status = BulkStatus.QUEUED
    job.save()


@transaction.atomic
def bulk_job_retry(*, job, by):
    """Resume a failed or stalled job with the leads still pending."""
    job = BulkJob.objects.select_for_update().get(pk=job.pk)
    if job.created_by_id != by.pk and not roles.is_manager(by):
        raise ActionForbidden(_("This bulk action belongs to someone else."))
    if not job.can_retry:
        raise TransitionNotAllowed(_("Only a failed or stalled bulk action can be retried."))
    job.error = ""
    _requeue(job, stalls=0)
    enqueue("leads.tasks.run_bulk_job", job.pk, language=translation.get_language())
    return job


def bulk_watchdog():
    """Resume every bulk job that stalled (its worker died, or the broker lost its
    message); one that stalled MAX_STALLS times in a row without progress fails and waits
    for a Retry. Returns the jobs it resumed or failed."""
    with transaction.atomic():
        stalled = jobs.find_stalled(BulkJob.objects.filter(status__in=ACTIVE_BULK))
        for job in stalled:
            # No request says whose language: the skip reasons and the error are the
            # creator's to read (leadflow.jobs.reader_language).
            language = jobs.reader_language(job)
            if job.stalls >= jobs.MAX_STALLS:
                job.status = BulkStatus.FAILED
                with translation.override(language):
                    job.error = _("Stopped making progress after %(done)s of %(total)s leads.") % {
                        "done": number_format(job.processed, force_grouping=True),
                        "total": number_format(job.total, force_grouping=True),
                    }
                job.run_token = None
                job.save()
            else:
                logger.warning("bulk job %s stalled; resuming", job.pk)
                job.status = BulkStatus.QUEUED
                job.save()
                enqueue("leads.tasks.run_bulk_job", job.pk, language=language)
    return stalled


def skipped_by_reason(job, *, reasons=REPORT_REASONS, per_reason=REPORT_LEADS_PER_REASON):
    """[(reason, count, [lead ids…])] of the skipped leads, the commonest reason first,
    with the first ``per_reason`` lead ids of each: one query, plus one per reason."""
    skipped = job.leads.filter(outcome=BulkOutcome.SKIPPED)
    groups = skipped.values("reason").annotate(n=Count("id")).order_by("-n", "reason")[:reasons]
    return [
        (
            group["reason"],
            group["n"],
            list(
                skipped.filter(reason=group["reason"])
                .order_by("lead_id")
                .values_list("lead_id", flat=True)[:per_reason]
            ),
        )
        for group in groups
    ]
