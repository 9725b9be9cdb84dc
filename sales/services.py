"""Sales' court (SPEC §3): claim, accept, reject, follow-ups, opportunity, won, lost,
and the manager's reopen, reassign and dispute rulings; and the manager's running of the
team: a user's role, and deactivating a user with their open leads reassigned.

Each function is one transaction that locks the lead first, so two people acting on
one lead at once are decided by the database: the second sees the first's result and
gets a clear :class:`~leads.TransitionNotAllowed`.
"""

import datetime as dt
import hashlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from leadflow import permissions, roles
from leadflow.dates import EARLIEST_DAY, LATEST_DAY
from leadflow.errors import ActionForbidden, InvalidInput, TransitionNotAllowed
from leadflow.i18n import lazy_text
from leadflow.models import NotificationKind, Profile, WebhookEvent
from leadflow.names import person
from leadflow.notifications.notify import campaign_people, notify
from leadflow.webhooks import events
from leads import lifecycle
from leads.models import (
    CLOSED_STAGES,
    PIPELINE_PROBABILITY,
    SALES_STAGES,
    Flag,
    Lead,
    LostReason,
    RejectionReason,
    Side,
    Stage,
    SystemNote,
)
from leads.services import next_round_robin_rep, note_assignment, validate_rep
from leads.sla.calendar import SLA, handoff_terms

from .models import (
    CONTACT_KINDS,
    COUNTS_AT,
    Activity,
    ActivityKind,
    ActivityOutcome,
    CalendarFeed,
    Dispute,
    DisputeRuling,
    Handoff,
    HandoffKind,
    HandoffOutcome,
    Objection,
    ObjectionTag,
    Snooze,
    Task,
    TaskKind,
    live_q,
    summarise_contact,
)
from .routing import engine

User = get_user_model()

# Clocks differ a little between browser and server; "now" from a form may be this far ahead.
CLOCK_SKEW = dt.timedelta(minutes=5)
# How far ahead a follow-up may be scheduled (and a bound that keeps deadline arithmetic
# far from the calendar's end: year 9999 overflowed it).
FOLLOW_UP_HORIZON = dt.timedelta(days=2 * 366)
# activity_log's default for next_follow_up_at: keep the lead's scheduled follow-up.
UNCHANGED = object()


# The note of a reassign by the escalation ladder, on its Handoff and the timeline.
AUTO_REASSIGN_NOTE = gettext_lazy("Reassigned by the escalation ladder: no response in time.")


def _pending_handoff(lead):
    return lead.handoffs.filter(outcome="").order_by("-handed_at", "-id").first()


def _latest_handoff(lead):
    return lead.handoffs.order_by("-handed_at", "-id").first()


def _change_hands(lead, to_user, at):
    """The lead passes to ``to_user`` within sales (a claim or a reassign). A flag stays
    with whoever was responsible when it was raised (SPEC §4): the holder's open sales
    flags (the rep's, or the managers' for a queued lead) close now as breaches on their
    record, and the new holder's clocks start afresh (``sales_clock_at``, which
    refresh_deadlines reads when the caller saves)."""
    Flag.objects.open().filter(lead=lead, side=Side.SALES).update(
        resolved_at=at, closed_as_breach=True
    )
    lead.owner = to_user
    lead.sales_clock_at = at


def _claim_into(lead, rep, at):
    _change_hands(lead, rep, at)
    handoff = _pending_handoff(lead)
    if handoff is not None and handoff.to_user_id is None:
        handoff.to_user = rep
        handoff.claimed_at = at
        handoff.save(update_fields=["to_user", "claimed_at"])


@transaction.atomic
def lead_claim(*, lead, by, at=None):
    """A rep takes a lead from the unassigned sales queue (stays handed_off, now theirs)."""
    if not roles.is_rep(by):
        raise ActionForbidden(_("Only salespeople can claim leads."))
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("claim", lead)
    if lead.owner_id is not None:
        if lead.owner_id == by.pk:
            raise TransitionNotAllowed(_("This lead is already yours."))
        raise lifecycle.claimed_first(lead.owner)
    _claim_into(lead, by, at)
    lifecycle.save(lead)
    return lead


def _require_actor_for_response(action, lead, by, at):
    """Accept/reject of a handed-off lead: its rep or a manager; a rep acting on a queued
    lead claims it in the same transaction."""
    if lead.stage == Stage.HANDED_OFF and lead.owner_id is None:
        if roles.is_rep(by):
            _claim_into(lead, by, at)
            return
        if roles.is_manager(by):
            raise TransitionNotAllowed(
                _("This lead is in the unassigned queue: reassign it to a rep first.")
            )
    lifecycle.require_lead_owner(lead, by, action)


@transaction.atomic
def lead_accept(*, lead, by, note="", at=None):
    """handed_off -> accepted."""
    lead, at = lifecycle.lock_now(lead, at)
    if lead.stage != Stage.HANDED_OFF:
        seen = getattr(lead.as_seen, "stage", None)
        if lead.stage in (Stage.CONTACTED, Stage.OPPORTUNITY) and seen != Stage.HANDED_OFF:
            # Neither a second accept nor a race lost on a handed-off lead: a contacted lead
            # or an opportunity taken back to accepted (a board card), which nothing does.
            raise lifecycle.cannot_go(lead.stage, Stage.ACCEPTED)
        if lead.stage in SALES_STAGES and lead.accepted_at:
            if lead.owner_id == by.pk:
                raise TransitionNotAllowed(_("You already accepted this lead."))
            raise TransitionNotAllowed(
                _("This lead was already accepted by %(rep)s.")
                % {"rep": person(lead.owner) if lead.owner else _("someone")}
            )
        lifecycle.require_stage("accept", lead)
    _require_actor_for_response("accept", lead, by, at)
    _accept(lead, by=by, at=at, note=note)
    lifecycle.save(lead)
    return lead


def _accept(lead, *, by, at, note=""):
    lifecycle.move(lead, Stage.ACCEPTED, by=by, at=at, note=note)
    handoff = _pending_handoff(lead)
    if handoff is not None:
        handoff.outcome = HandoffOutcome.ACCEPTED
        handoff.responded_at = at
        handoff.save(update_fields=["outcome", "responded_at"])
    # Here rather than in lead_accept: a first contact logged on a handed-off lead
    # accepts it too (activity_log).
    events.emit(WebhookEvent.LEAD_ACCEPTED, lead=lead, actor=by, at=at)


@transaction.atomic
def lead_reject(*, lead, by, reason, note="", at=None):
    """handed_off or accepted -> rejected, with a reason: the ball goes back to marketing."""
    if reason not in RejectionReason.values:
        raise InvalidInput(_("Choose a reason for rejecting."), field="reason")
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("reject", lead)
    _require_actor_for_response("reject", lead, by, at)
    rep = lead.owner
    handoff = _latest_handoff(lead)
    lifecycle.move(lead, Stage.REJECTED, by=by, at=at, note=note)
    lead.rejection_reason = reason
    lead.disputed_at = None
    lead.dispute_ruled_at = None
    lifecycle.save(lead)
    if handoff is not None:
        handoff.outcome = HandoffOutcome.REJECTED
        handoff.responded_at = handoff.responded_at or at
        handoff.rejection_reason = reason
        handoff.rejected_at = at
        handoff.response_note = note
        if handoff.to_user_id is None:
            handoff.to_user = rep
        handoff.save()
    events.emit(WebhookEvent.LEAD_REJECTED, lead=lead, actor=by, at=at)
    notify_rejection(lead, by=by, reason=reason, note=note)
    return lead


def notify_rejection(lead, *, by, reason, note):
    """Tell the lead's campaign owner (the managers when it has none) that sales rejected
    it, with the reason and the rep's note; the notice opens the lead's dispute form."""
    text = RejectionReason(reason).label
    if note:
        text = lazy_text(gettext_lazy("%(reason)s: “%(note)s”"), reason=text, note=note)
    url = f"{lead.get_absolute_url()}#dispute-comment"
    for user in campaign_people(lead.campaign):
        if user != by:
            notify(
                user=user,
                kind=NotificationKind.LEAD_REJECTED,
                lead=lead,
                actor=by,
                text=text,
                url=url,
                email=True,
            )


def _parse_money(value, field):
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(_("Enter an amount."), field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise InvalidInput(_("Enter an amount between 0 and 9,999,999,999.99."), field=field)
    return amount.quantize(Decimal("0.01"))


def _late_grace(sla):
    return dt.timedelta(minutes=sla.global_policy.late_grace_minutes)


def _correctable(lead, by, corrects):
    """The activity of ``lead`` a correction replaces: the latest version (nothing has
    corrected it yet), and for a rep one they logged themselves."""
    corrects_id = corrects.pk if isinstance(corrects, Activity) else corrects
    try:
        activity = Activity.objects.filter(lead=lead, pk=int(corrects_id)).first()
    except (TypeError, ValueError):
        activity = None
    if activity is None:
        raise InvalidInput(_("Choose an activity of this lead to correct."), field="corrects")
    if Activity.objects.filter(corrects=activity).exists():
        raise InvalidInput(
            _("This activity was already corrected: correct its correction instead."),
            field="corrects",
        )
    if activity.user_id != by.pk and not roles.is_manager(by):
        raise ActionForbidden(_("Only a manager can correct another person's activity."))
    return activity


def _derive_contact(lead):
    """Set the lead's contact summary from its uncorrected activities, each at its
    counts_at (SPEC §3): first attempt, first connect, attempts before it, latest contact
    and latest activity. One query; a lead has tens of activities, not thousands."""
    rows = (
        Activity.objects.filter(live_q(), lead=lead)
        .annotate(at=COUNTS_AT)
        .order_by("at", "id")
        .values_list("kind", "outcome", "at")
    )
    summarise_contact(lead, rows)


@transaction.atomic
def activity_log(
    *,
    lead,
    by,
    kind,
    outcome="",
    notes="",
    occurred_at=None,
    next_follow_up_at=UNCHANGED,
    objections=(),
    corrects=None,
):
    """Log a follow-up on a lead with sales. A call, email or meeting is contact: it moves
    a handed-off lead to accepted (implicitly) and then contacted, and an accepted lead to
    contacted. A note never moves a stage.

    Proof of contact (SPEC §2, §3): the activity keeps the server's ``logged_at``; logged
    more than the policy's grace after ``occurred_at`` it is *logged late* and counts at
    ``logged_at`` (``Activity.counts_at``) for every SLA, flag deadline and dashboard
    number. ``occurred_at`` is never in the future nor before the lead's creation.

    ``corrects``: the activity (or its id) this one replaces. Activities are append-only;
    a correction is a new activity, judged on its own (late if logged well after the
    ``occurred_at`` it states), and the lead's first contact, first connect and attempts
    are re-derived from the activities nothing corrects. Correcting a call with a note
    withdraws it as contact.

    ``next_follow_up_at``: a moment schedules the next follow-up, None clears it, and
    leaving it out keeps the one scheduled if it is still ahead of this activity (one
    already due is taken as done by it)."""
    now = timezone.now()
    if kind not in ActivityKind.values:
        raise InvalidInput(_("Choose call, email, meeting or note."), field="kind")
    if outcome and outcome not in ActivityOutcome.values:
        raise InvalidInput(_("Choose a valid outcome."), field="outcome")
    objections = list(dict.fromkeys(objections or ()))
    if any(tag not in ObjectionTag.values for tag in objections):
        raise InvalidInput(_("Choose valid objection tags."), field="objections")
    if occurred_at is not None and occurred_at > now + CLOCK_SKEW:
        raise InvalidInput(_("An activity cannot be in the future."), field="occurred_at")
    explicit = next_follow_up_at is not UNCHANGED
    if explicit and next_follow_up_at is not None and next_follow_up_at > now + FOLLOW_UP_HORIZON:
        raise InvalidInput(
            _("Schedule the next follow-up within the next two years."),
            field="next_follow_up_at",
        )
    # The server's time of logging, read after the lock as every transition's time; left
    # out, the activity happens then.
    lead, logged_at = lifecycle.lock_now(lead)
    # A browser clock a little ahead (CLOCK_SKEW) is taken as now: never in the future.
    occurred_at = min(occurred_at or logged_at, logged_at)
    if explicit and next_follow_up_at is not None and next_follow_up_at <= occurred_at:
        raise InvalidInput(
            _("The next follow-up must be after this activity."), field="next_follow_up_at"
        )
    sla = SLA()
    logged_late = Activity.is_late(
        occurred_at=occurred_at, logged_at=logged_at, grace=_late_grace(sla)
    )
    # When this activity counts (Activity.counts_at): a note logged late counts when it
    # was logged, so backdating it cannot slip it in before a follow-up fell due.
    counts_at = logged_at if logged_late else occurred_at
    scheduled = lead.next_follow_up_at
    if kind not in CONTACT_KINDS and scheduled is not None and scheduled <= counts_at:
        # A follow-up that is due is done by contact only (SPEC §4): a note keeps it, so it
        # cannot quiet follow_up_overdue.
        if explicit and next_follow_up_at is not None:
            raise InvalidInput(
                _("A follow-up is due: log the call, email or meeting, a note cannot move it."),
                field="next_follow_up_at",
            )
        next_follow_up_at = scheduled
    elif not explicit:
        next_follow_up_at = scheduled if scheduled and scheduled > occurred_at else None
    lifecycle.require_stage("log", lead)
    if lead.stage in CLOSED_STAGES:
        # Won and lost leads keep no next follow-up (SPEC §3); a note or a contact logged
        # on them changes no stage.
        next_follow_up_at = None
    if lead.owner_id is None:
        raise TransitionNotAllowed(_("Claim this lead from the queue first."))
    lifecycle.require_lead_owner(lead, by)
    if occurred_at < lead.created_at:
        raise InvalidInput(
            _("An activity cannot be before the lead was created."), field="occurred_at"
        )
    corrected = _correctable(lead, by, corrects) if corrects is not None else None
    # A correction may restate an activity of an earlier stint with sales.
    reached_sales = lead.handed_off_at if corrected else lead.last_handed_off_at
    if occurred_at < (reached_sales or lead.created_at):
        raise InvalidInput(
            _("An activity cannot be before the lead reached sales."), field="occurred_at"
        )

    activity = Activity.objects.create(
        lead=lead,
        user=by,
        kind=kind,
        outcome=outcome,
        notes=notes,
        occurred_at=occurred_at,
        next_follow_up_at=next_follow_up_at,
        logged_at=logged_at,
        logged_late=logged_late,
        corrects=corrected,
    )
    Objection.objects.bulk_create(
        [Objection(activity=activity, lead=lead, tag=tag) for tag in objections]
    )
    at = activity.counts_at
    if lead.last_activity_at is None or at >= lead.last_activity_at:
        # The newest activity decides the next follow-up.
        lead.next_follow_up_at = next_follow_up_at
    if kind in CONTACT_KINDS:
        if lead.stage == Stage.HANDED_OFF:
            _accept(lead, by=by, at=at, note=SystemNote.ACCEPTED_BY_CONTACT)
        if lead.stage == Stage.ACCEPTED:
            lifecycle.move(lead, Stage.CONTACTED, by=by, at=at)
    _derive_contact(lead)
    lifecycle.save(lead, sla)
    return activity


def _parse_probability(value):
    if value in (None, ""):
        return None
    try:
        probability = int(str(value).strip())  # "12.5" and "abc" are refused, not rounded
    except ValueError:
        probability = None
    if probability is None or not 0 <= probability <= 100:
        raise InvalidInput(_("Enter a probability from 0 to 100."), field="probability")
    return probability


def _set_pipeline(lead, *, value, expected_close_on, probability):
    """An opportunity's pipeline fields (SPEC §3): the value when given, the expected close
    date, the probability (the stage's default when none is given)."""
    if value is not None:
        lead.deal_value = value
    if expected_close_on is not None and not (
        isinstance(expected_close_on, dt.date) and EARLIEST_DAY <= expected_close_on <= LATEST_DAY
    ):
        raise InvalidInput(_("Enter a date between 1900 and 9998."), field="expected_close_on")
    lead.expected_close_on = expected_close_on
    lead.probability = (
        probability if probability is not None else PIPELINE_PROBABILITY[Stage.OPPORTUNITY]
    )


@transaction.atomic
def lead_to_opportunity(
    *, lead, by, value=None, expected_close_on=None, probability=None, note="", at=None
):
    """contacted -> opportunity, with an optional estimated deal value, expected close date
    and probability in percent (0–100; PIPELINE_PROBABILITY's default when left out)."""
    value = _parse_money(value, "value")
    probability = _parse_probability(probability)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_lead_owner(lead, by)
    lifecycle.require_stage("opportunity", lead)
    lifecycle.move(lead, Stage.OPPORTUNITY, by=by, at=at, note=note)
    _set_pipeline(lead, value=value, expected_close_on=expected_close_on, probability=probability)
    lifecycle.save(lead)
    return lead


@transaction.atomic
def opportunity_update(*, lead, by, value=None, expected_close_on=None, probability=None):
    """Edit an open opportunity's value, expected close date and probability. Moving the
    close date forward resolves its close_date_passed flag at the next sweep."""
    value = _parse_money(value, "value")
    probability = _parse_probability(probability)
    lead = lifecycle.lock(lead)
    lifecycle.require_lead_owner(lead, by)
    lifecycle.require_stage("edit_opportunity", lead)
    _set_pipeline(lead, value=value, expected_close_on=expected_close_on, probability=probability)
    lifecycle.save(lead)
    return lead


@transaction.atomic
def lead_win(*, lead, by, value, note="", at=None):
    """opportunity -> won, with the deal value (> 0). From contacted in one step: the
    opportunity and the win, two stage changes in this one transaction (SPEC §3)."""
    value = _parse_money(value, "value")
    if value is None or value <= 0:
        raise InvalidInput(_("A won deal needs a value above zero."), field="value")
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_lead_owner(lead, by)
    lifecycle.require_stage("win", lead)
    if lead.stage == Stage.CONTACTED:
        lifecycle.move(lead, Stage.OPPORTUNITY, by=by, at=at)
        _set_pipeline(lead, value=value, expected_close_on=None, probability=None)
    lifecycle.move(lead, Stage.WON, by=by, at=at, note=note)
    lead.deal_value = value
    lead.next_follow_up_at = None
    lifecycle.save(lead)
    events.emit(WebhookEvent.LEAD_WON, lead=lead, actor=by, at=at)
    return lead


@transaction.atomic
def lead_lose(*, lead, by, reason, note="", at=None):
    """accepted, contacted or opportunity -> lost, with a reason."""
    if reason not in LostReason.values:
        raise InvalidInput(_("Choose a reason for losing."), field="reason")
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_lead_owner(lead, by)
    lifecycle.require_stage("lose", lead)
    lifecycle.move(lead, Stage.LOST, by=by, at=at, note=note)
    lead.lost_reason = reason
    lead.next_follow_up_at = None  # closed leads keep no next follow-up (SPEC §3)
    lifecycle.save(lead)
    events.emit(WebhookEvent.LEAD_LOST, lead=lead, actor=by, at=at)
    return lead


@transaction.atomic
def lead_reopen(*, lead, by, note="", at=None):
    """won or lost -> the stage it closed from (managers only)."""
    permissions.require_manager(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("reopen", lead)
    if lead.email:
        clash = Lead.objects.open_with_email(lead.email).exclude(pk=lead.pk).first()
        if clash is not None:
            raise TransitionNotAllowed(
                _("Lead #%(id)s is open with the same email; reopening would duplicate it.")
                % {"id": clash.pk}
            )
    lifecycle.move(lead, lead.closed_from, by=by, at=at, note=note, reopen=True)
    lead.closed_at = None
    lead.closed_from = ""
    lead.lost_reason = ""
    lifecycle.save(lead)
    return lead


@transaction.atomic
def lead_reassign(*, lead, by, to_user, note="", at=None):
    """Managers move a lead with sales to another rep, same stage (a Handoff record)."""
    permissions.require_manager(by)
    validate_rep(to_user)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("reassign", lead)
    if lead.owner_id == to_user.pk:
        raise InvalidInput(_("This lead is already assigned to that rep."), field="to_user")
    _reassign(lead, to_user=to_user, by=by, at=at, note=note)
    return lead


def _reassign(lead, *, to_user, by, at, note, why=None):
    """The reassign itself (the caller holds the lead's lock): a Handoff record, the
    holder's open sales flags closed as breaches, the new rep's clocks started, both told.
    ``to_user`` None is the unassigned queue (whose clock starts then too). ``by`` None is
    LeadFlow itself (the escalation ladder), ``why`` what the previous holder is told."""
    previous = lead.owner
    pending = _pending_handoff(lead)
    if pending is not None:
        pending.outcome = HandoffOutcome.SUPERSEDED
        pending.responded_at = at
        pending.save(update_fields=["outcome", "responded_at"])
    Handoff.objects.create(
        lead=lead,
        kind=HandoffKind.REASSIGN,
        from_user=by,
        to_user=to_user,
        handed_at=at,
        note=note,
        # Past the response, the new rep inherits the acceptance.
        outcome="" if lead.stage == Stage.HANDED_OFF else HandoffOutcome.ACCEPTED,
        responded_at=None if lead.stage == Stage.HANDED_OFF else at,
        **handoff_terms(lead),
    )
    _change_hands(lead, to_user, at)
    # The new rep's (or the queue's) response and first contact count from here too.
    lead.last_handed_off_at = at
    lifecycle.save(lead)
    if to_user is not None:
        note_assignment(to_user, at)
        notify(user=to_user, kind=NotificationKind.REASSIGNED, lead=lead, actor=by, email=True)
    if previous is not None:
        notify(
            user=previous,
            kind=NotificationKind.REASSIGNED,
            lead=lead,
            actor=by,
            text=why or lazy_text(gettext_lazy("Reassigned to %(rep)s."), rep=person(to_user)),
            email=by is None,
        )


def reassign_target(lead, at):
    """The rep the escalation ladder gives an overdue lead to, by the assignment rules
    (sales.routing) with its holder passed over; without a matching rule, the next
    available rep by round-robin other than its holder. None when there is nobody else:
    the lead then stays where it is."""
    decision = engine.route(lead, at=at, commit=True, exclude=lead.owner)
    if decision.rep is not None:
        return decision.rep
    if decision.rule is not None:
        return None  # the rule's rep or team has nobody eligible: it waits
    try:
        return next_round_robin_rep(at, exclude=lead.owner)
    except InvalidInput:
        return None


@transaction.atomic
def lead_reassign_overdue(*, lead, at=None):
    """The escalation ladder's last step (SPEC §4): a lead still waiting for its response
    past the policy's escalation and reassign delays goes to the next eligible rep. Returns
    the new rep, or None when the lead was answered meanwhile or nobody else is eligible
    (it then stays where it is; its response_reassigned flag says so)."""
    lead, at = lifecycle.lock_now(lead, at)
    if lead.stage != Stage.HANDED_OFF:
        return None
    to_user = reassign_target(lead, at)
    if to_user is None:
        return None
    _reassign(
        lead,
        to_user=to_user,
        by=None,
        at=at,
        note=str(AUTO_REASSIGN_NOTE),
        why=lazy_text(
            gettext_lazy("No response in time: reassigned to %(rep)s by the escalation rules."),
            rep=to_user.get_username(),
        ),
    )
    return to_user


@transaction.atomic
def dispute_rule(*, dispute, by, ruling, to_user=None, note="", at=None):
    """A manager rules on a disputed rejection: upheld (stays rejected) or overturned
    (handed to the rep the manager picks)."""
    permissions.require_manager(by)
    if ruling not in DisputeRuling.values:
        raise InvalidInput(_("Choose uphold or overturn."), field="ruling")
    if ruling == DisputeRuling.OVERTURNED:
        validate_rep(to_user)
    dispute_id = dispute.pk if isinstance(dispute, Dispute) else dispute
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None:
        raise TransitionNotAllowed(_("This dispute no longer exists."))
    lead, at = lifecycle.lock_now(dispute.lead_id, at)
    if dispute.ruled_at is not None:
        raise TransitionNotAllowed(_("This dispute has already been ruled on."))
    lifecycle.require_stage("rule", lead)
    dispute.ruling = ruling
    dispute.ruled_by = by
    dispute.ruled_at = at
    dispute.ruling_note = note
    dispute.save()
    lead.disputed_at = None
    lead.dispute_ruled_at = at
    if ruling == DisputeRuling.OVERTURNED:
        lifecycle.move(lead, Stage.HANDED_OFF, by=by, at=at, note=SystemNote.REJECTION_OVERTURNED)
        lead.owner = to_user
        Handoff.objects.create(
            lead=lead,
            kind=HandoffKind.OVERTURN,
            from_user=by,
            to_user=to_user,
            handed_at=at,
            note=note,
            **handoff_terms(lead),
        )
        note_assignment(to_user, at)
        notify(user=to_user, kind=NotificationKind.HANDED_TO_YOU, lead=lead, actor=by, email=True)
    lifecycle.save(lead)
    if ruling == DisputeRuling.OVERTURNED:
        events.emit(WebhookEvent.LEAD_HANDED_OFF, lead=lead, actor=by, at=at)
    text = DisputeRuling(ruling).label
    if note:
        text = lazy_text(gettext_lazy("%(ruling)s: “%(note)s”"), ruling=text, note=note)
    for user in dispute.concerns() - {None}:
        # The ruling's own page: it opens even once the lead has moved out of their sight.
        notify(
            user=user,
            kind=NotificationKind.DISPUTE_RULED,
            lead=lead,
            actor=by,
            text=text,
            url=dispute.get_absolute_url(),
            email=True,
        )
    return dispute


@transaction.atomic
def rep_set_availability(*, rep, by, available):
    """Managers mark a rep (un)available; round-robin skips unavailable reps."""
    permissions.require_manager(by)
    validate_rep(rep)
    profile, _ = Profile.objects.select_for_update().get_or_create(user=rep)
    profile.is_available = bool(available)
    profile.save(update_fields=["is_available"])
    return profile


@transaction.atomic
def lead_return_to_queue(*, lead, by, note="", at=None):
    """Managers put a handed-off lead its rep has not answered back in the unassigned sales
    queue (a Handoff to nobody), for any rep to claim. A lead its rep accepted cannot wait
    in the queue (only a lead awaiting a response does): reassign it instead."""
    permissions.require_manager(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("reassign", lead)
    if lead.stage != Stage.HANDED_OFF:
        raise TransitionNotAllowed(
            _("Only a lead awaiting its rep's response can go back to the queue: reassign it.")
        )
    if lead.owner_id is None:
        raise InvalidInput(_("This lead is already in the unassigned queue."), field="to_user")
    _reassign(
        lead,
        to_user=None,
        by=by,
        at=at,
        note=note,
        why=gettext_lazy("Returned to the unassigned queue."),
    )
    return lead


# --- the team: roles, deactivation -----------------------------------------------------

# How a deactivated user's open leads find their new owner. Each mode builds a picker from
# the form's chosen rep: ``pick(lead, at)`` returns the lead's new rep, or None for the
# unassigned queue, and is called with the lead locked and the departing user already
# inactive (so round-robin cannot pick them). Assignment rules plug in as one more mode.
REASSIGN_RULES = "rules"
REASSIGN_REP = "rep"
REASSIGN_ROUND_ROBIN = "round_robin"
REASSIGN_QUEUE = "queue"
REASSIGN_CHOICES = [
    (REASSIGN_RULES, gettext_lazy("by the assignment rules")),
    (REASSIGN_REP, gettext_lazy("to one rep I choose")),
    (REASSIGN_ROUND_ROBIN, gettext_lazy("by round-robin among the available reps")),
    (
        REASSIGN_QUEUE,
        gettext_lazy(
            "to the unassigned queue (leads they already accepted go by round-robin: only a"
            " lead awaiting a response can wait in the queue)"
        ),
    ),
]


def _pick_chosen(to_user):
    validate_rep(to_user)
    return lambda lead, at: to_user


def _pick_round_robin(to_user):
    return lambda lead, at: next_round_robin_rep(at)


def _pick_rules(to_user):
    # The assignment rules, as an automatic hand-off takes them (the deactivated rep is
    # no longer eligible); a lead they would leave in a queue waits in the sales queue.
    def pick(lead, at):
        decision = engine.route(lead, at=at, commit=True)
        if decision.rep is None and lead.stage != Stage.HANDED_OFF:
            return next_round_robin_rep(at)
        return decision.rep

    return pick


def _pick_queue(to_user):
    return lambda lead, at: None if lead.stage == Stage.HANDED_OFF else next_round_robin_rep(at)


REASSIGN_PICKERS = {
    REASSIGN_RULES: _pick_rules,
    REASSIGN_REP: _pick_chosen,
    REASSIGN_ROUND_ROBIN: _pick_round_robin,
    REASSIGN_QUEUE: _pick_queue,
}


def reassignment_picker(mode, to_user=None):
    """The ``pick(lead, at)`` of a reassignment mode (REASSIGN_PICKERS)."""
    if mode not in REASSIGN_PICKERS:
        raise InvalidInput(_("Choose where their open leads go."), field="reassign")
    return REASSIGN_PICKERS[mode](to_user)


@dataclass
class Deactivation:
    """What a deactivation did with the user's open leads: how many went to each rep, and
    how many to the queue."""

    user: object
    to_reps: Counter = field(default_factory=Counter)
    to_queue: int = 0

    @property
    def moved(self):
        return sum(self.to_reps.values()) + self.to_queue


def _lock_user(user):
    found = User.objects.select_for_update().filter(pk=user.pk).first()
    if found is None:
        raise TransitionNotAllowed(_("This user no longer exists."))
    return found


def _lock_managers():
    """Lock every active manager's row, in id order: taken before any other user row, so
    two managers deactivating or demoting each other at once queue up instead of each
    holding the row the other waits for (a deadlock)."""
    list(
        User.objects.select_for_update()
        .filter(pk__in=roles.active_managers().values("pk"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _require_another_manager(user):
    """Refuse to take the last active manager's rights away. Every manager's row is locked
    first (_lock_managers), so two managers demoting each other at once are serialized; the
    count is a new statement after the lock, so it sees what the other committed."""
    _lock_managers()
    if not roles.active_managers().exclude(pk=user.pk).exists():
        raise TransitionNotAllowed(
            _("%(user)s is the last manager: make someone else a manager first.")
            % {"user": user.get_username()}
        )


def _open_leads_of(user):
    return Lead.objects.filter(owner=user, stage__in=SALES_STAGES)


@transaction.atomic
def user_set_role(*, user, by, role):
    """A manager gives ``user`` exactly one role (a key of roles.ROLE_GROUPS). Refused for
    oneself, for the last manager, and for a rep who still holds open leads (they would
    keep leads no one can work: reassign them, or deactivate the rep)."""
    permissions.require_manager(by)
    if role not in roles.ROLE_GROUPS:
        raise InvalidInput(_("Choose marketing, sales or manager."), field="role")
    if user.pk == by.pk:
        raise ActionForbidden(_("You cannot change your own role: ask another manager."))
    _lock_managers()
    user = _lock_user(user)
    group = roles.ROLE_GROUPS[role]
    if roles.is_manager(user) and group != roles.MANAGERS:
        _require_another_manager(user)
    if roles.is_rep(user) and group != roles.SALES:
        held = _open_leads_of(user).count()
        if held:
            raise TransitionNotAllowed(
                ngettext(
                    "%(user)s holds %(n)s open lead: reassign it first.",
                    "%(user)s holds %(n)s open leads: reassign them first.",
                    held,
                )
                % {"user": user.get_username(), "n": held}
            )
    user.groups.remove(*Group.objects.filter(name__in=roles.ALL_ROLES).exclude(name=group))
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    user._leadflow_roles = None  # the cached roles of roles.role_names
    return user


@transaction.atomic
def user_deactivate(*, user, by, reassign, to_user=None, note=""):
    """A manager deactivates ``user`` and, in the same transaction, gives each of their
    open leads with sales a new owner by ``reassign`` (a REASSIGN_PICKERS mode; ``to_user``
    for "rep"): a reassignment or a return to the queue per lead, through the same services
    as a manager's page, so the handoffs, stage clocks and flags (closed as the departing
    rep's breaches) are what a single reassignment writes. Won and lost leads stay theirs.
    A deactivated user cannot log in nor use their API tokens, and is never picked for a
    lead. Refused for oneself and the last manager; if any lead cannot be placed (nobody
    available for round-robin), nothing changes. Returns a :class:`Deactivation`."""
    permissions.require_manager(by)
    if user.pk == by.pk:
        raise ActionForbidden(_("You cannot deactivate yourself: ask another manager."))
    pick = reassignment_picker(reassign, to_user)
    _lock_managers()
    user = _lock_user(user)
    if not user.is_active:
        raise TransitionNotAllowed(
            _("%(user)s is already deactivated.") % {"user": user.get_username()}
        )
    if roles.is_manager(user):
        _require_another_manager(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    result = Deactivation(user=user)
    note = note or _("%(user)s was deactivated.") % {"user": user.get_username()}
    for lead_id in _open_leads_of(user).order_by("pk").values_list("pk", flat=True):
        # Each lead moves at its own moment, as in a bulk reassignment: round-robin takes
        # turns by the time each rep was last given a lead.
        lead, at = lifecycle.lock_now(lead_id)
        rep = pick(lead, at)
        if rep is None:
            lead_return_to_queue(lead=lead, by=by, note=note, at=at)
            result.to_queue += 1
        else:
            lead_reassign(lead=lead, by=by, to_user=rep, note=note, at=at)
            result.to_reps[rep] += 1
    return result


@transaction.atomic
def user_reactivate(*, user, by):
    """A manager lets a deactivated user log in again, with the role they had; round-robin
    and the pickers offer them again (their availability is as it was)."""
    permissions.require_manager(by)
    user = _lock_user(user)
    if user.is_active:
        raise TransitionNotAllowed(
            _("%(user)s is active already.") % {"user": user.get_username()}
        )
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


# --- the rep's day: snooze, tasks, the calendar feed ---------------------------------


@transaction.atomic
def follow_up_snooze(*, lead, by, until, reason):
    """Put off ``lead``'s scheduled follow-up to ``until`` (after now, within the
    follow-up horizon) for ``reason``; the Snooze row is on the lead's timeline. Its rep
    or a manager, on an open lead with sales that has a follow-up scheduled."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the follow-up is put off."), field="reason")
    lead, now = lifecycle.lock_now(lead)
    lifecycle.require_lead_owner(lead, by)
    if lead.stage not in SALES_STAGES or lead.next_follow_up_at is None:
        raise TransitionNotAllowed(_("This lead has no follow-up to snooze."))
    if until is None or until <= now:
        raise InvalidInput(_("Snooze to a moment in the future."), field="until")
    if until > now + FOLLOW_UP_HORIZON:
        raise InvalidInput(_("Snooze within the next two years."), field="until")
    snooze = Snooze.objects.create(
        lead=lead,
        user=by,
        was_due_at=lead.next_follow_up_at,
        until=until,
        reason=reason[:300],
        at=now,
    )
    lead.next_follow_up_at = until
    lead.save(update_fields=["next_follow_up_at", "updated_at"])
    return snooze


def _require_task_scope(lead, by):
    """A rep adds tasks on their own open leads; a manager on any open lead. A lead that
    stopped being the rep's while the request waited for its lock is "someone else acted
    first" (a 409), as for every sales action (``lifecycle.require_lead_owner``)."""
    if not lead.is_open:
        raise TransitionNotAllowed(_("This lead is closed: reopen it to add a task."))
    lifecycle.require_lead_owner(lead, by)


@transaction.atomic
def task_add(*, lead, by, kind, title, due_at):
    """Add a task for ``by`` on ``lead`` (their own lead, or any for a manager), due at
    ``due_at`` (within the follow-up horizon; a moment already past is an overdue task)."""
    if kind not in TaskKind.values:
        raise InvalidInput(_("Choose call back, send a quote or other."), field="kind")
    title = (title or "").strip() or str(TaskKind(kind).label)
    if due_at is None:
        raise InvalidInput(_("Say when the task is due."), field="due_at")
    # Year 1 in the site's time zone is before year 1 in UTC: stored, it broke every read.
    if due_at.date() < EARLIEST_DAY:
        raise InvalidInput(_("Enter a date between 1900 and 9998."), field="due_at")
    lead, now = lifecycle.lock_now(lead)
    _require_task_scope(lead, by)
    if due_at > now + FOLLOW_UP_HORIZON:
        raise InvalidInput(_("Set the task within the next two years."), field="due_at")
    return Task.objects.create(
        lead=lead, user=by, kind=kind, title=title[:200], due_at=due_at, created_at=now
    )


@transaction.atomic
def task_complete(*, task, by):
    """Mark ``task`` done: only its own rep (or a manager). Completing twice is refused."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.user_id != by.pk and not roles.is_manager(by):
        raise ActionForbidden(_("This task is not yours."))
    if task.completed_at is not None:
        raise TransitionNotAllowed(_("This task is already done."))
    task.completed_at = timezone.now()
    task.save(update_fields=["completed_at"])
    return task


@transaction.atomic
def calendar_feed_renew(*, user):
    """A new secret calendar address for ``user`` (the old one stops working). Returns
    the token, shown once; only its SHA-256 is stored."""
    if not roles.can_work_sales(user):
        raise ActionForbidden(_("The calendar feed is for salespeople and managers."))
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    CalendarFeed.objects.update_or_create(
        user=user, defaults={"token_hash": digest, "created_at": timezone.now()}
    )
    return token


@transaction.atomic
def calendar_feed_revoke(*, user):
    CalendarFeed.objects.filter(user=user).delete()
