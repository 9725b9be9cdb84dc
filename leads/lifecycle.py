"""The lead lifecycle of SPEC §3: which stage may follow which, and the one place
that moves a lead, writes its StageChange and keeps its reporting timestamps.

Services in ``leads.services`` (marketing's court) and ``sales.services`` (sales'
court) lock the lead, check the actor, then call :func:`move`.
"""

from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.errors import ActionForbidden, TransitionNotAllowed

from .models import Lead, Side, Stage, StageChange, side_of
from .sla import refresh_deadlines

ALLOWED = {
    Stage.NEW: {Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED},
    Stage.MQL: {Stage.HANDED_OFF, Stage.NURTURE, Stage.DISQUALIFIED},
    Stage.NURTURE: {Stage.MQL, Stage.DISQUALIFIED},
    Stage.HANDED_OFF: {Stage.ACCEPTED, Stage.REJECTED},
    Stage.ACCEPTED: {Stage.CONTACTED, Stage.REJECTED, Stage.LOST},
    Stage.CONTACTED: {Stage.OPPORTUNITY, Stage.LOST},
    Stage.OPPORTUNITY: {Stage.WON, Stage.LOST},
    Stage.REJECTED: {Stage.NURTURE, Stage.DISQUALIFIED, Stage.HANDED_OFF},
    Stage.DISQUALIFIED: set(),
    Stage.WON: set(),
    Stage.LOST: set(),
}


def can_move(from_stage, to_stage):
    return to_stage in ALLOWED.get(from_stage, set())


def stage_label(stage):
    return Stage(stage).label if stage else _("none")


def lock(lead):
    """Re-read the lead under a row lock (the caller is inside ``transaction.atomic``).

    Two transitions racing on one lead serialize here; the second sees the first's
    result and its stage check refuses with a clear message.
    """
    pk = lead.pk if isinstance(lead, Lead) else lead
    try:
        return Lead.objects.select_for_update().get(pk=pk)
    except Lead.DoesNotExist:
        raise TransitionNotAllowed(_("This lead no longer exists.")) from None


def refuse(lead, action):
    return TransitionNotAllowed(
        _("Cannot %(action)s: it is at the “%(stage)s” stage.")
        % {"action": action, "stage": stage_label(lead.stage)}
    )


def move(lead, to_stage, *, by, at, note="", reopen=False, save=True):
    """Move a locked lead to ``to_stage``: validates the move, records the StageChange,
    sets ``stage``, ``owner_side`` and the timestamps of SPEC §3 (the caller saves the
    lead). With ``save=False`` the StageChange is returned unsaved, for bulk inserts."""
    from_stage = lead.stage
    if reopen:
        if from_stage not in (Stage.WON, Stage.LOST) or to_stage != lead.closed_from:
            raise refuse(lead, _("reopen this lead"))
    elif not can_move(from_stage, to_stage):
        raise TransitionNotAllowed(
            _("A lead cannot go from %(from)s to %(to)s.")
            % {"from": stage_label(from_stage), "to": stage_label(to_stage)}
        )
    lead.stage = to_stage
    lead.owner_side = side_of(to_stage)
    if to_stage == Stage.MQL:
        lead.mql_at = at
    elif to_stage == Stage.HANDED_OFF:
        lead.handed_off_at = lead.handed_off_at or at
        lead.last_handed_off_at = at
    elif to_stage == Stage.ACCEPTED and not reopen:
        lead.accepted_at = at
    elif to_stage == Stage.REJECTED:
        lead.rejected_at = at
    elif to_stage == Stage.OPPORTUNITY and not reopen:
        lead.opportunity_at = lead.opportunity_at or at
    elif to_stage in (Stage.WON, Stage.LOST):
        lead.closed_at = at
        lead.closed_from = from_stage
    if lead.owner_side == Side.MARKETING:
        lead.owner = None
    change = StageChange(
        lead=lead, from_stage=from_stage, to_stage=to_stage, by=by, at=at, note=note[:500]
    )
    if save:
        change.save(force_insert=True)
    return change


def require_marketing(user):
    if not roles.can_market(user):
        raise ActionForbidden(_("Only marketers and managers can do this."))


def require_manager(user):
    if not roles.is_manager(user):
        raise ActionForbidden(_("Only managers can do this."))


def require_lead_owner(lead, user):
    """Sales' actions on a lead: its rep, or a manager (SPEC §1)."""
    if roles.is_manager(user):
        return
    if not roles.is_rep(user):
        raise ActionForbidden(_("Only salespeople and managers can do this."))
    if lead.owner_id != user.pk:
        raise ActionForbidden(_("This lead is not assigned to you."))


def save(lead, sla=None):
    """Write a lead after a transition: its stored flag deadlines follow its new state
    (``sla`` when the caller already resolved the lead's policy)."""
    refresh_deadlines(lead, sla)
    lead.save()
