"""Marketing's court (SPEC §3): logging leads, qualification and handoff to sales.

Every function here is one transaction: it locks the lead, checks the actor's role,
moves the lead through :mod:`leads.lifecycle` and refreshes its SLA deadlines. A
refused move raises a :class:`~leads.lifecycle.LeadflowError` and writes nothing.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.models import NotificationKind, Profile
from leadflow.notify import notify
from sales.models import Dispute, Handoff, HandoffKind

from . import lifecycle
from .lifecycle import ActionForbidden, InvalidInput, TransitionNotAllowed
from .models import (
    ENDED_STAGES,
    DisqualifyReason,
    InquiryType,
    Lead,
    Origin,
    Side,
    Stage,
    StageChange,
    Touch,
)
from .sla import refresh_deadlines

User = get_user_model()

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "company", "job_title", "country")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass
class IntakeResult:
    lead: Lead
    created: bool
    touch: Touch


def _save(lead, sla=None):
    refresh_deadlines(lead, sla)
    lead.save()


def find_open_lead_by_email(email, *, lock=False):
    if not email:
        return None
    qs = Lead.objects.exclude(stage__in=ENDED_STAGES).alias(email_ci=Lower("email"))
    if lock:
        qs = qs.select_for_update()
    return qs.filter(email_ci=email.strip().lower()).first()


def _add_touch(lead, *, campaign, inquiry_type, source, by, at, utm, message):
    touch = Touch.objects.create(
        lead=lead,
        campaign=campaign,
        inquiry_type=inquiry_type,
        source=source,
        occurred_at=at,
        created_by=by,
        message=message,
        **{k: (utm.get(k) or "")[:200] for k in UTM_FIELDS},
    )
    return touch


@transaction.atomic
def lead_intake(
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
    Touch to that lead instead of a duplicate and fills its blank contact fields.

    ``by`` is None for the public intake form (then ``campaign`` is required)."""
    at = at or timezone.now()
    utm = utm or {}
    data = {k: (data.get(k) or "").strip() for k in CONTACT_FIELDS} | {
        k: data[k] for k in ("notes", "consent", "score") if k in data
    }
    if by is not None and not (roles.can_market(by) or roles.is_rep(by)):
        raise ActionForbidden(_("Only marketers, salespeople and managers can log leads."))
    if by is None and campaign is None:
        raise InvalidInput(_("A campaign is required."), field="campaign")
    if not data["last_name"]:
        raise InvalidInput(_("Last name is required."), field="last_name")
    if not data["email"] and not data["phone"]:
        raise InvalidInput(_("Give an email address or a phone number."), field="email")
    if origin is None:
        origin = (
            Origin.SALES
            if by is not None and roles.is_rep(by) and not roles.can_market(by)
            else Origin.MARKETING
        )
    if origin == Origin.SALES and (by is None or not roles.is_rep(by)):
        raise ActionForbidden(_("Only salespeople can log sales-generated leads."))
    touch_args = {
        "campaign": campaign,
        "inquiry_type": inquiry_type,
        "source": source,
        "by": by,
        "at": at,
        "utm": utm,
        "message": message,
    }

    existing = find_open_lead_by_email(data["email"], lock=True)
    if existing is None:
        try:
            # A concurrent intake of the same email loses on the unique index and
            # becomes a touch below.
            with transaction.atomic():
                lead = _create_lead(
                    data=data,
                    by=by,
                    campaign=campaign,
                    inquiry_type=inquiry_type,
                    origin=origin,
                    utm=utm,
                    at=at,
                    sla=sla,
                )
                touch = _add_touch(lead, **touch_args)
                return IntakeResult(lead=lead, created=True, touch=touch)
        except IntegrityError:
            existing = find_open_lead_by_email(data["email"], lock=True)
            if existing is None:
                raise
    return _touch_existing(existing, data=data, touch_args=touch_args)


def _create_lead(*, data, by, campaign, inquiry_type, origin, utm, at, sla):
    lead = Lead(
        **{k: v for k, v in data.items() if k in CONTACT_FIELDS},
        notes=data.get("notes") or "",
        consent=bool(data.get("consent")),
        score=data.get("score"),
        campaign=campaign,
        last_touch_campaign=campaign,
        inquiry_type=inquiry_type,
        origin=origin,
        created_by=by,
        created_at=at,
        **{k: (utm.get(k) or "")[:200] for k in UTM_FIELDS},
    )
    if origin == Origin.SALES:
        # A sales-generated lead starts accepted, owned by the rep who found it.
        lead.stage = Stage.ACCEPTED
        lead.owner_side = Side.SALES
        lead.owner = by
        lead.accepted_at = at
    _save(lead, sla)
    StageChange.objects.create(lead=lead, from_stage="", to_stage=lead.stage, by=by, at=at)
    return lead


def _touch_existing(lead, *, data, touch_args):
    touch = _add_touch(lead, **touch_args)
    changed = []
    for name in CONTACT_FIELDS:
        if data.get(name) and not getattr(lead, name):
            setattr(lead, name, data[name])
            changed.append(name)
    if data.get("consent") and not lead.consent:
        lead.consent = True
        changed.append("consent")
    if touch_args["campaign"] is not None:
        lead.last_touch_campaign = touch_args["campaign"]
        changed.append("last_touch_campaign")
        if lead.campaign_id is None:
            lead.campaign = touch_args["campaign"]
            changed.append("campaign")
    if changed:
        lead.save(update_fields=[*changed, "updated_at"])
    return IntakeResult(lead=lead, created=False, touch=touch)


@transaction.atomic
def lead_qualify(*, lead, by, score=None, note="", at=None):
    """new or nurture -> mql."""
    lifecycle.require_marketing(by)
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage not in (Stage.NEW, Stage.NURTURE):
        raise lifecycle.refuse(lead, _("qualify"))
    lifecycle.move(lead, Stage.MQL, by=by, at=at, note=note)
    if score is not None:
        lead.score = score
    _save(lead)
    return lead


@transaction.atomic
def lead_nurture(*, lead, by, note="", at=None):
    """new or mql -> nurture (rejected -> nurture is lead_recycle)."""
    lifecycle.require_marketing(by)
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage not in (Stage.NEW, Stage.MQL):
        raise lifecycle.refuse(lead, _("move to nurture"))
    lifecycle.move(lead, Stage.NURTURE, by=by, at=at, note=note)
    _save(lead)
    return lead


def _no_open_dispute(lead):
    if lead.disputed_at is not None:
        raise TransitionNotAllowed(
            _("The rejection of this lead is disputed; wait for the manager's ruling.")
        )


@transaction.atomic
def lead_recycle(*, lead, by, note="", at=None):
    """rejected -> nurture: marketing takes a rejected lead back to nurture it."""
    lifecycle.require_marketing(by)
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage != Stage.REJECTED:
        raise lifecycle.refuse(lead, _("recycle"))
    _no_open_dispute(lead)
    lifecycle.move(lead, Stage.NURTURE, by=by, at=at, note=note)
    _save(lead)
    return lead


@transaction.atomic
def lead_disqualify(*, lead, by, reason, note="", at=None):
    """new, mql, nurture or rejected -> disqualified, with a reason."""
    lifecycle.require_marketing(by)
    if reason not in DisqualifyReason.values:
        raise InvalidInput(_("Choose a reason for disqualifying."), field="reason")
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage not in (Stage.NEW, Stage.MQL, Stage.NURTURE, Stage.REJECTED):
        raise lifecycle.refuse(lead, _("disqualify"))
    _no_open_dispute(lead)
    lifecycle.move(lead, Stage.DISQUALIFIED, by=by, at=at, note=note)
    lead.disqualify_reason = reason
    _save(lead)
    return lead


def active_reps():
    return User.objects.filter(is_active=True, groups__name=roles.SALES).distinct()


def validate_rep(user):
    if user is None or not user.is_active or not roles.is_rep(user):
        raise InvalidInput(_("Choose an active salesperson."), field="to_user")
    return user


def next_round_robin_rep(at):
    """The available rep who was assigned a lead longest ago (never first), marked as
    assigned now. Reps' profile rows are locked so concurrent handoffs take turns."""
    reps = list(active_reps().order_by("pk"))
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


def _note_assignment(rep, at):
    Profile.objects.update_or_create(user=rep, defaults={"last_assigned_at": at})


@transaction.atomic
def lead_hand_off(*, lead, by, to_user=None, round_robin=False, note="", at=None, sla=None):
    """mql or rejected -> handed_off: to a chosen rep, by round-robin, or (neither) to the
    unassigned sales queue. Writes a Handoff and notifies the rep."""
    lifecycle.require_marketing(by)
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage not in (Stage.MQL, Stage.REJECTED):
        raise lifecycle.refuse(lead, _("hand off"))
    _no_open_dispute(lead)
    if round_robin:
        to_user = next_round_robin_rep(at)
    elif to_user is not None:
        validate_rep(to_user)
        _note_assignment(to_user, at)
    lifecycle.move(lead, Stage.HANDED_OFF, by=by, at=at, note=note)
    lead.owner = to_user
    _save(lead, sla)
    handoff = Handoff.objects.create(
        lead=lead, kind=HandoffKind.HANDOFF, from_user=by, to_user=to_user, handed_at=at, note=note
    )
    if to_user is not None:
        notify(user=to_user, kind=NotificationKind.HANDED_TO_YOU, lead=lead, actor=by, email=True)
    return handoff


def bulk(action, lead_ids, **kwargs):
    """Apply a single-lead service to many leads, each in its own transaction, so one
    refusal does not undo the others. Returns (done, [(lead_id, message), ...])."""
    done, refused = [], []
    for lead_id in lead_ids:
        try:
            done.append(action(lead=lead_id, **kwargs))
        except lifecycle.LeadflowError as exc:
            refused.append((lead_id, exc.message))
    return done, refused


@transaction.atomic
def dispute_raise(*, lead, by, comment, at=None):
    """A marketer disputes the latest rejection; a manager will rule on it."""
    lifecycle.require_marketing(by)
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(_("Say why you dispute the rejection."), field="comment")
    at = at or timezone.now()
    lead = lifecycle.lock(lead)
    if lead.stage != Stage.REJECTED:
        raise lifecycle.refuse(lead, _("dispute the rejection of"))
    _no_open_dispute(lead)
    handoff = lead.handoffs.filter(outcome="rejected").order_by("-handed_at", "-id").first()
    if handoff is None:
        raise TransitionNotAllowed(_("This lead has no rejection to dispute."))
    dispute = Dispute.objects.create(
        lead=lead, handoff=handoff, raised_by=by, comment=comment, raised_at=at
    )
    lead.disputed_at = at
    _save(lead)
    for manager in User.objects.filter(is_active=True, groups__name=roles.MANAGERS):
        notify(user=manager, kind=NotificationKind.DISPUTE_RAISED, lead=lead, actor=by)
    return dispute
