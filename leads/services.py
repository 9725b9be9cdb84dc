"""Marketing's court (SPEC §3): logging leads, qualification and handoff to sales.

Every function here is one transaction: it locks the lead, checks the actor's role,
moves the lead through :mod:`leads.lifecycle` and refreshes its SLA deadlines. A
refused move raises a :class:`~leads.LeadflowError` and writes nothing.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow import permissions, roles
from leadflow.bulk import bulk_insert
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError, TransitionNotAllowed
from leadflow.models import NotificationKind, Profile, WebhookEvent
from leadflow.notifications.notify import notify
from leadflow.webhooks import events
from sales import routing
from sales.models import Dispute, Handoff, HandoffKind, HandoffOutcome

from . import lifecycle
from .models import (
    CONSENT_EDIT,
    COURT_FIELDS,
    ENDED_STAGES,
    HAND_RAISER_TYPES,
    BuiltInView,
    DisqualifyReason,
    ImportOutcome,
    InquiryType,
    Lead,
    Origin,
    SavedView,
    Side,
    Stage,
    StageChange,
    SystemNote,
    Touch,
    TouchSource,
    add_stretch,
)
from .sla.calendar import SLA, handoff_terms, refresh_deadlines

User = get_user_model()
logger = logging.getLogger(__name__)

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "company", "job_title", "country")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass
class IntakeResult:
    lead: Lead
    created: bool
    touch: Touch


# What the lead form and the API tell someone whose inquiry became a touch on a lead they
# may not see: that much, and nothing of the lead.
OUT_OF_SCOPE_TOUCH = gettext_lazy(
    "This person is already an open lead that another salesperson is working: your inquiry "
    "was added to it as a touch, for its owner to see."
)


def find_open_lead_by_email(email, *, lock=False):
    """The open lead with this email (case-insensitive), locked with ``lock``. There is at
    most one (the partial unique index lead_open_email_unique_ci). The lookup reads only
    the id: on the public intake most emails are new, and compiling the lead's fifty
    columns for nothing cost about half a millisecond of CPU per post (1.2 ms against
    0.7 ms); a match is then loaded by primary key, already locked by this transaction."""
    if not email:
        return None
    qs = Lead.objects.open_with_email(email).order_by().values_list("pk", flat=True)
    if lock:
        qs = qs.select_for_update()
    pk = next(iter(qs[:1]), None)
    return None if pk is None else Lead.objects.get(pk=pk)


def _add_touch(lead, *, campaign, inquiry_type, source, by, at, utm, message, consent):
    touch = Touch.objects.create(
        lead=lead,
        campaign=campaign,
        inquiry_type=inquiry_type,
        source=source,
        occurred_at=at,
        created_by=by,
        message=message,
        consent=consent,
        **{k: (utm.get(k) or "")[:200] for k in UTM_FIELDS},
    )
    return touch


@transaction.atomic
def lead_intake(**kwargs):
    """Log one inquiry in a transaction of its own (a savepoint inside the caller's): see
    :func:`lead_intake_in_transaction` for the rules and the arguments."""
    return lead_intake_in_transaction(**kwargs)


def lead_intake_in_transaction(
    *,
    by,
    data,
    campaign=None,
    inquiry_type=InquiryType.WEB_FORM,
    source="manual",
    utm=None,
    message="",
    origin=None,
    at=None,
    sla=None,
):
    """Log one inquiry. A new person becomes a lead at ``new`` (or ``accepted`` and owned by
    the rep when sales-generated); an email matching an open lead (case-insensitive) adds a
    Touch to that lead instead of a duplicate and fills its blank contact fields; it
    never overwrites a field the lead has. ``data["consent"]`` is the answer the inquiry
    carried (True, False to withdraw, None for none): it is kept on the touch, and the
    lead's consent follows the latest explicit answer (``Lead.take_consent``).

    ``by`` is None for the public intake form (then ``campaign`` is required). A new
    hand-raiser there (HAND_RAISER_TYPES) from a campaign that routes on intake is
    qualified and handed off by the assignment rules in this same transaction.

    It runs in the caller's transaction, which must be open: a service that holds one
    already (campaigns.services.intake_submit) calls this rather than :func:`lead_intake`,
    so the public intake does not pay a SAVEPOINT and its RELEASE (two of its round trips)
    for a savepoint nothing would roll back to (an error there undoes the whole post)."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("lead_intake_in_transaction needs one")
    at = at or timezone.now()
    utm = utm or {}
    data = {k: (data.get(k) or "").strip() for k in CONTACT_FIELDS} | {
        k: data[k] for k in ("notes", "consent", "score") if k in data
    }
    if by is not None and not roles.can_log_leads(by):
        raise ActionForbidden(_("Only marketers, salespeople and managers can log leads."))
    if by is None and campaign is None:
        raise InvalidInput(_("A campaign is required."), field="campaign")
    if not data["last_name"]:
        raise InvalidInput(_("Last name is required."), field="last_name")
    if not data["email"] and not data["phone"]:
        raise InvalidInput(_("Give an email address or a phone number."), field="email")
    origin = intake_origin(by, origin)
    touch_args = {
        "campaign": campaign,
        "inquiry_type": inquiry_type,
        "source": source,
        "by": by,
        "at": at,
        "utm": utm,
        "message": message,
        "consent": data.get("consent"),
    }

    existing = find_open_lead_by_email(data["email"], lock=True)
    if existing is None:
        try:
            # A concurrent intake of the same email loses on the unique index and
            # becomes a touch below.
            lead = _create_lead(
                data=data,
                by=by,
                campaign=campaign,
                inquiry_type=inquiry_type,
                origin=origin,
                utm=utm,
                at=at,
                source=source,
                sla=sla,
            )
        except IntegrityError:
            existing = find_open_lead_by_email(data["email"], lock=True)
            if existing is None:
                raise
        else:
            touch = _add_touch(lead, **touch_args)
            events.emit(WebhookEvent.LEAD_CREATED, lead=lead, actor=by, at=at, checked_on=campaign)
            if (
                by is None
                and campaign.route_on_intake
                and inquiry_type in HAND_RAISER_TYPES
                and origin == Origin.MARKETING
            ):
                _route_on_intake(lead, at)
            return IntakeResult(lead=lead, created=True, touch=touch)
    return _touch_existing(existing, data=data, touch_args=touch_args)


def build_lead(*, data, by, campaign, inquiry_type, origin, utm, at, source, created_at=None):
    """An unsaved lead at its first stage: ``new``, or ``accepted`` and owned by the rep
    when sales-generated, with the consent answer its first touch (from ``source``)
    carried. Shared by single intake and the CSV import's batches.

    ``created_at``: an imported inquiry's own, earlier date. The lead is dated by it (the
    dashboard's cohorts and trend), but its clocks start at ``at``, when LeadFlow got it
    and someone could first act: the court-time ledger, the stages it starts at and the
    triage deadline (Lead.received_at)."""
    created_at = min(created_at, at) if created_at else at
    lead = Lead(
        **{k: v for k, v in data.items() if k in CONTACT_FIELDS},
        notes=data.get("notes") or "",
        score=data.get("score"),
        campaign=campaign,
        last_touch_campaign=campaign,
        inquiry_type=inquiry_type,
        origin=origin,
        created_by=by,
        created_at=created_at,
        received_at=at if created_at < at else None,
        **{k: (utm.get(k) or "")[:200] for k in UTM_FIELDS},
    )
    lead.take_consent(data.get("consent"), at=created_at, source=source)
    lead.enter_stage(at)  # the first stretch of the court-time ledger starts here
    if origin == Origin.SALES:
        # A sales-generated lead starts accepted, owned by the rep who found it.
        lead.stage = Stage.ACCEPTED
        lead.owner_side = Side.SALES
        lead.owner = by
        lead.accepted_at = at
    return lead


def intake_origin(by, origin=None):
    """A lead logged by a salesperson (who is not also in marketing) is sales-generated."""
    if origin is None:
        origin = (
            Origin.SALES
            if by is not None and roles.is_rep(by) and not roles.can_market(by)
            else Origin.MARKETING
        )
    if origin == Origin.SALES and (by is None or not roles.is_rep(by)):
        raise ActionForbidden(_("Only salespeople can log sales-generated leads."))
    return origin


def _create_lead(*, data, by, campaign, inquiry_type, origin, utm, at, source, sla):
    """The new lead with its first stage change. When a concurrent intake of the same
    email committed its lead first, the partial unique index lead_open_email_unique_ci
    refuses this one: the IntegrityError is raised with the transaction rolled back to
    just before the INSERT, and the caller makes the inquiry a touch on that lead. Only
    the INSERT is under the savepoint, and on success it is never released (COMMIT ends
    it): the public intake saves a RELEASE round trip. Nothing after the savepoint and
    before the error registers a commit hook (Django tracks those by atomic blocks, not by
    savepoints like this one), so the rollback leaves none behind."""
    lead = build_lead(
        data=data,
        by=by,
        campaign=campaign,
        inquiry_type=inquiry_type,
        origin=origin,
        utm=utm,
        at=at,
        source=source,
    )
    savepoint = transaction.savepoint()
    try:
        lifecycle.save(lead, sla)
    except IntegrityError:
        # save() marked the transaction as failed; it is good again at the savepoint
        # (Django refuses every statement, the ROLLBACK TO included, until told so).
        transaction.set_rollback(False)
        transaction.savepoint_rollback(savepoint)
        raise
    StageChange.objects.create(lead=lead, from_stage="", to_stage=lead.stage, by=by, at=at)
    return lead


def take_touch(lead, touch, data):
    """The dedupe rule (SPEC §3), written once for the lead form, the public intake, the
    API and the CSV import: an inquiry from the email of an open lead is a touch on that
    lead. It fills the lead's blank contact fields from ``data`` and changes nothing else
    it has: never its first-touch campaign (not even a blank one: a sales-generated lead
    was found by sales, not by the campaign that touched it later), its origin or its
    owner. The touch's campaign becomes the last-touch campaign, and its consent answer
    counts if it is the latest (Lead.take_consent). Returns the fields it changed."""
    changed = set()
    for name in CONTACT_FIELDS:
        if data.get(name) and not getattr(lead, name):
            setattr(lead, name, data[name])
            changed.add(name)
    changed.update(lead.take_consent(touch.consent, at=touch.occurred_at, source=touch.source))
    if touch.campaign_id is not None:
        lead.last_touch_campaign_id = touch.campaign_id
        changed.add("last_touch_campaign")
    return changed


def _touch_existing(lead, *, data, touch_args):
    touch = _add_touch(lead, **touch_args)
    changed = take_touch(lead, touch, data)
    # Saved even when no field changed: updated_at tells the dashboard statistics that the
    # lead's touches (its attribution) changed.
    lead.save(update_fields=[*sorted(changed), "updated_at"])
    return IntakeResult(lead=lead, created=False, touch=touch)


def can_edit_contact(user, lead):
    """Marketers and managers may edit any lead's contact details, a rep those of their
    own leads."""
    return roles.can_market(user) or (roles.is_rep(user) and lead.owner_id == user.pk)


@transaction.atomic
def lead_update_contact(*, lead, by, data):
    """Correct a lead's contact details (CONTACT_FIELDS and consent). The email must stay
    unique among open leads (case-insensitive), and an email or a phone must remain."""
    lead = lifecycle.lock(lead)
    if not can_edit_contact(by, lead):
        raise lifecycle.someone_else_acted(lead, by) or ActionForbidden(
            _("Only marketing, a manager or the lead's salesperson can do this.")
        )
    values = {name: (data.get(name) or "").strip() for name in CONTACT_FIELDS}
    if not values["last_name"]:
        raise InvalidInput(_("Last name is required."), field="last_name")
    if not values["email"] and not values["phone"]:
        raise InvalidInput(_("Give an email address or a phone number."), field="email")
    if (
        values["email"]
        and values["email"].lower() != lead.email.lower()
        and lead.stage not in ENDED_STAGES
        and Lead.objects.open_with_email(values["email"]).exclude(pk=lead.pk).exists()
    ):
        raise InvalidInput(_("Another open lead has this email address."), field="email")
    changed = [name for name, value in values.items() if getattr(lead, name) != value]
    for name in changed:
        setattr(lead, name, values[name])
    if bool(data.get("consent")) != lead.consent:
        # The editor sets the box: an explicit answer, as of now.
        changed += lead.take_consent(
            bool(data.get("consent")), at=timezone.now(), source=CONSENT_EDIT
        )
    if changed:
        try:
            with transaction.atomic():
                lead.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:  # the same email taken by a concurrent change
            raise InvalidInput(
                _("Another open lead has this email address."), field="email"
            ) from None
    return lead, changed


@transaction.atomic
def lead_qualify(*, lead, by, score=None, note="", at=None, sla=None):
    """new or nurture -> mql (``sla``: the policies already read, for a batch)."""
    permissions.require_marketing(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("qualify", lead)
    lifecycle.move(lead, Stage.MQL, by=by, at=at, note=note)
    if score is not None:
        lead.score = score
    lifecycle.save(lead, sla)
    return lead


@transaction.atomic
def lead_nurture(*, lead, by, note="", at=None, sla=None):
    """new or mql -> nurture (rejected -> nurture is lead_recycle)."""
    permissions.require_marketing(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("nurture", lead)
    lifecycle.move(lead, Stage.NURTURE, by=by, at=at, note=note)
    lifecycle.save(lead, sla)
    return lead


@transaction.atomic
def lead_recycle(*, lead, by, note="", at=None):
    """rejected -> nurture: marketing takes a rejected lead back to nurture it."""
    permissions.require_marketing(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("recycle", lead)
    lifecycle.move(lead, Stage.NURTURE, by=by, at=at, note=note)
    lifecycle.save(lead)
    return lead


@transaction.atomic
def lead_disqualify(*, lead, by, reason, note="", at=None, sla=None):
    """new, mql, nurture or rejected -> disqualified, with a reason."""
    permissions.require_marketing(by)
    if reason not in DisqualifyReason.values:
        raise InvalidInput(_("Choose a reason for disqualifying."), field="reason")
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("disqualify", lead)
    lifecycle.move(lead, Stage.DISQUALIFIED, by=by, at=at, note=note)
    lead.disqualify_reason = reason
    lifecycle.save(lead, sla)
    return lead


def validate_rep(user):
    if user is None or not user.is_active or not roles.is_rep(user):
        raise InvalidInput(_("Choose an active salesperson."), field="to_user")
    return user


# How a lead is handed off (lead_hand_off's keywords): by the assignment rules, to a chosen
# rep, to the next rep in turn, or to the unassigned sales queue.
HAND_OFF_AUTO = "auto"
HAND_OFF_REP = "rep"
HAND_OFF_ROUND_ROBIN = "round_robin"
HAND_OFF_QUEUE = "queue"
HAND_OFF_MODES = (HAND_OFF_AUTO, HAND_OFF_REP, HAND_OFF_ROUND_ROBIN, HAND_OFF_QUEUE)


def hand_off_kwargs(*, mode, to_user=None, note=""):
    """lead_hand_off's keywords for a hand-off ``mode`` (the form's, the API's and a bulk
    job's), ``to_user`` only for HAND_OFF_REP."""
    return {
        "to_user": to_user if mode == HAND_OFF_REP else None,
        "round_robin": mode == HAND_OFF_ROUND_ROBIN,
        "automatic": mode == HAND_OFF_AUTO,
        "note": note or "",
    }


def next_round_robin_rep(at, *, exclude=None):
    """The available rep who was assigned a lead longest ago (never first), marked as
    assigned now; never ``exclude`` (a rep the lead is taken from). Reps' profile rows are
    locked so concurrent handoffs take turns."""
    reps = list(roles.active_reps().exclude(pk=getattr(exclude, "pk", None)).order_by("pk"))
    for rep in reps:
        Profile.objects.get_or_create(user=rep)
    candidates = list(
        Profile.objects.select_for_update()
        .filter(user__in=reps, is_available=True)
        .select_related("user")
        .order_by(F("last_assigned_at").asc(nulls_first=True), "user_id")
    )
    if not candidates:
        raise InvalidInput(_("No salesperson is available for round-robin."), field="to_user")
    chosen = candidates[0]
    chosen.last_assigned_at = at
    chosen.save(update_fields=["last_assigned_at"])
    return chosen.user


def note_assignment(rep, at):
    """Round-robin bookkeeping: ``rep`` was just given a lead."""
    Profile.objects.update_or_create(user=rep, defaults={"last_assigned_at": at})


@transaction.atomic
def lead_hand_off(
    *,
    lead,
    by,
    to_user=None,
    round_robin=False,
    automatic=False,
    note="",
    at=None,
    sla=None,
):
    """mql or rejected -> handed_off: to a chosen rep, by round-robin, by the assignment
    rules (``automatic``: sales.routing, the decision kept on the handoff), or (none of
    those) to the unassigned sales queue. Writes a Handoff and notifies the rep, or, when
    the rules put the lead in a team's queue, that team's available reps."""
    permissions.require_marketing(by)
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("hand_off", lead)
    decision = None
    if automatic:
        decision = routing.route(lead, at=at)
        to_user = decision.rep
    elif round_robin:
        to_user = next_round_robin_rep(at)
    elif to_user is not None:
        validate_rep(to_user)
        note_assignment(to_user, at)
    return _hand_off(lead, by=by, to_user=to_user, decision=decision, note=note, at=at, sla=sla)


def _hand_off(lead, *, by, to_user, decision, note, at, sla):
    lifecycle.move(lead, Stage.HANDED_OFF, by=by, at=at, note=note)
    lead.owner = to_user
    lifecycle.save(lead, sla)
    handoff = Handoff.objects.create(
        lead=lead,
        kind=HandoffKind.HANDOFF,
        from_user=by,
        to_user=to_user,
        handed_at=at,
        note=note,
        rule=decision.rule if decision else None,
        team=decision.team if decision else None,
        routing=decision.record() if decision else {},
        **handoff_terms(lead, sla),
    )
    if to_user is not None:
        notify(user=to_user, kind=NotificationKind.HANDED_TO_YOU, lead=lead, actor=by, email=True)
    elif decision is not None and decision.team is not None:
        routing.call_team(lead, decision.team, actor=by)
    events.emit(WebhookEvent.LEAD_HANDED_OFF, lead=lead, actor=by, at=at)
    return handoff


def _route_on_intake(lead, at):
    """A hand-raiser of a campaign that routes on intake: qualified and handed off by the
    rules at once, by LeadFlow itself (no user). The handoff's SLA terms are read afresh,
    not from the intake's minute-old copy: they are a contract at handoff time."""
    lifecycle.move(lead, Stage.MQL, by=None, at=at, note=SystemNote.ROUTED_ON_INTAKE)
    decision = routing.route(lead, at=at)
    _hand_off(lead, by=None, to_user=decision.rep, decision=decision, note="", at=at, sla=SLA())


def bulk(action, lead_ids, **kwargs):
    """Apply a single-lead service to many leads, each in its own transaction, so one
    refusal does not undo the others. Returns (done, [(lead_id, message), ...])."""
    done, refused = [], []
    for lead_id in lead_ids:
        try:
            done.append(action(lead=lead_id, **kwargs))
        except LeadflowError as exc:
            refused.append((lead_id, exc.message))
    return done, refused


@transaction.atomic
def dispute_raise(*, lead, by, comment, at=None):
    """A marketer disputes the latest rejection; a manager will rule on it."""
    permissions.require_marketing(by)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(_("Say why you dispute the rejection."), field="comment")
    lead, at = lifecycle.lock_now(lead, at)
    lifecycle.require_stage("dispute", lead)
    handoff = (
        lead.handoffs.filter(outcome=HandoffOutcome.REJECTED).order_by("-handed_at", "-id").first()
    )
    if handoff is None:
        raise TransitionNotAllowed(_("This lead has no rejection to dispute."))
    dispute = Dispute.objects.create(
        lead=lead, handoff=handoff, raised_by=by, comment=comment, raised_at=at
    )
    lead.disputed_at = at
    lifecycle.save(lead)
    for manager in User.objects.filter(is_active=True, groups__name=roles.MANAGERS):
        notify(user=manager, kind=NotificationKind.DISPUTE_RAISED, lead=lead, actor=by)
    return dispute


def require_can_import(by):
    if not roles.can_log_leads(by):
        raise ActionForbidden(_("Only marketers, salespeople and managers can import leads."))


def _save_touched(touched):
    """Write the fields a batch changed on existing leads: one UPDATE per last-touch
    campaign for the common case, a per-lead save only where contact fields were filled.
    Every touched lead gets a new updated_at (its attribution changed with its touches)."""
    by_campaign = defaultdict(list)
    for lead, changed in touched:
        if changed <= {"last_touch_campaign"}:
            by_campaign[lead.last_touch_campaign_id].append(lead.pk)
        else:
            lead.save(update_fields=[*changed, "updated_at"])
    now = timezone.now()
    for campaign_id, ids in by_campaign.items():
        Lead.objects.filter(pk__in=ids).update(last_touch_campaign=campaign_id, updated_at=now)


@transaction.atomic
def lead_import_batch(*, by, rows, sla=None, at=None):
    """Set-based intake of many parsed rows with the same rules as ``lead_intake``: an email
    matching an open lead adds a touch (and fills blank fields), a new email creates a lead
    at its first stage (or the marketing stage its status maps to). Returns
    [(row, outcome, lead)]. Raises IntegrityError if a concurrent intake took an email."""
    require_can_import(by)
    at = at or timezone.now()
    sla = sla or SLA()
    origin = intake_origin(by)
    keys = sorted({row.email_key for row in rows if row.email_key})
    existing = {}
    if keys:
        for lead in Lead.objects.open_with_email(*keys).select_for_update().order_by("pk"):
            existing.setdefault(lead.email.lower(), lead)
    results, new_leads, changes, touches, touched = [], [], [], [], {}
    for row in rows:
        lead = existing.get(row.email_key)
        touch = Touch(
            campaign=row.campaign,
            inquiry_type=row.inquiry_type,
            source=TouchSource.IMPORT,
            # The inquiry's own date when the file gives one (its history stays true).
            occurred_at=row.created_at or at,
            created_by=by,
            message=row.data.get("notes") or "",
            consent=row.data.get("consent"),
            **{k: row.utm.get(k, "") for k in UTM_FIELDS},
        )
        if lead is not None:
            touch.lead = lead
            touches.append(touch)
            touched.setdefault(lead.pk, (lead, set()))[1].update(take_touch(lead, touch, row.data))
            results.append((row, ImportOutcome.TOUCHED, lead))
            continue
        lead = build_lead(
            data=row.data,
            by=by,
            campaign=row.campaign,
            inquiry_type=row.inquiry_type,
            origin=origin,
            utm=row.utm,
            at=at,
            source=TouchSource.IMPORT,
            created_at=row.created_at,
        )
        changes.append(StageChange(lead=lead, from_stage="", to_stage=lead.stage, by=by, at=at))
        if origin == Origin.MARKETING and row.stage != Stage.NEW:
            changes.append(
                lifecycle.move(
                    lead, row.stage, by=by, at=at, note=SystemNote.IMPORT_STATUS, save=False
                )
            )
            if row.stage == Stage.DISQUALIFIED:
                lead.disqualify_reason = DisqualifyReason.OTHER
        refresh_deadlines(lead, sla)
        touch.lead = lead
        touches.append(touch)
        new_leads.append(lead)
        if row.email_key:
            existing[row.email_key] = lead
        results.append((row, ImportOutcome.CREATED, lead))
    bulk_insert(Lead, new_leads)
    events.emit_many(WebhookEvent.LEAD_CREATED, new_leads, actor=by, at=at)
    bulk_insert(StageChange, changes)
    bulk_insert(Touch, touches)
    _save_touched(touched.values())
    return results


# --- court time (SPEC §3) ----------------------------------------------------------------

COURT_REBUILD_BATCH = 2_000  # leads per locked batch


def court_time_from_log(changes):
    """The ledger ({field: value} of Lead.LEDGER_FIELDS) that a lead's stage log (its
    ``(from_stage, at)`` pairs in the order they were written) adds up to: the same steps
    (``add_stretch``) lifecycle.move takes at each change."""
    counters = dict.fromkeys(COURT_FIELDS.values(), 0)
    since = None
    for from_stage, at in changes:
        since = add_stretch(counters, from_stage, since, at)
    return {**counters, "court_since": since}


@transaction.atomic
def _court_time_batch(after, size):
    leads = list(
        Lead.objects.filter(pk__gt=after)
        .order_by("pk")
        .select_for_update()
        .only("pk", *Lead.LEDGER_FIELDS)[:size]
    )
    if not leads:
        return None, 0
    log = defaultdict(list)
    # Under the leads' locks no transition can add a change meanwhile (move() locks first).
    for lead_id, from_stage, at in (
        StageChange.objects.filter(lead_id__in=[lead.pk for lead in leads])
        .order_by("lead_id", "id")
        .values_list("lead_id", "from_stage", "at")
    ):
        log[lead_id].append((from_stage, at))
    changed = []
    for lead in leads:
        ledger = court_time_from_log(log[lead.pk])
        if any(getattr(lead, name) != value for name, value in ledger.items()):
            for name, value in ledger.items():
                setattr(lead, name, value)
            changed.append(lead)
    if changed:
        Lead.objects.bulk_update(changed, list(Lead.LEDGER_FIELDS), batch_size=500)
    return leads[-1].pk, len(changed)


def court_time_rebuild(*, batch=COURT_REBUILD_BATCH):
    """Recompute every lead's court-time ledger from its stage log, ``batch`` leads per
    transaction (each locked while it is rewritten, so a concurrent transition is not
    lost). Returns the number of leads whose stored ledger differed."""
    after, fixed = 0, 0
    while True:
        after, changed = _court_time_batch(after, batch)
        if after is None:
            return fixed
        fixed += changed


# --- saved views of the lead list ------------------------------------------------------


SAVED_VIEW_QUERY_MAX = 2000


@transaction.atomic
def saved_view_save(*, by, name, shared, query=None, view=None):
    """Create a saved view of the lead list (``view`` None) or rename / re-share ``by``'s
    own ``view``. ``query`` is the list's query string, already validated by its filter
    form (leads.filters.SavedViewForm); None keeps the view's. Only the owner changes a
    view; a name is unique per owner, case-insensitively."""
    if not roles.can_see_leads(by):
        raise ActionForbidden(_("Only people who see the lead list can save views of it."))
    if view is not None and view.owner_id != by.pk:
        raise ActionForbidden(_("Only the person who saved this view can change it."))
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("Give the view a name."), field="name")
    if len(name) > SavedView._meta.get_field("name").max_length:
        raise InvalidInput(_("The name is too long (80 characters at most)."), field="name")
    if BuiltInView.named(name):
        raise InvalidInput(
            _("“%(name)s” is a built-in view: choose another name.") % {"name": name},
            field="name",
        )
    if query is not None and len(query) > SAVED_VIEW_QUERY_MAX:
        raise InvalidInput(_("These filters are too long to save."), field="query")
    if view is None:
        view = SavedView(owner=by, query=query or "")
    elif query is not None:
        view.query = query
    view.name, view.shared = name, bool(shared)
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        raise InvalidInput(_("You already have a view with this name."), field="name") from None
    return view


@transaction.atomic
def saved_view_delete(*, by, view):
    """Delete ``by``'s own saved view; anyone else's is refused."""
    if view.owner_id != by.pk:
        raise ActionForbidden(_("Only the person who saved this view can delete it."))
    view.delete()
