"""The lead lifecycle of SPEC §3: which stage may follow which, and the one place
that moves a lead, writes its StageChange and keeps its reporting timestamps.

Services in ``leads.services`` (marketing's court) and ``sales.services`` (sales'
court) lock the lead, check the actor, then call :func:`move`.
"""

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow import roles
from leadflow.errors import ActionForbidden, TransitionNotAllowed
from leadflow.names import person

from .models import SALES_STAGES, Lead, Side, Stage, StageChange, side_of
from .sla.calendar import refresh_deadlines


def can_move(from_stage, to_stage):
    return to_stage in ALLOWED.get(from_stage, set())


def stage_label(stage):
    return Stage(stage).label if stage else _("none")


def lock(lead):
    """Re-read the lead under a row lock (the caller is inside ``transaction.atomic``).

    Two transitions racing on one lead serialize here; the second sees the first's
    result and its stage check refuses with a clear message. Given the instance the
    caller read (a page's or a request's), the locked copy keeps it as ``as_seen``, so a
    refusal can tell a lost race from an actor who never could (:func:`someone_else_acted`).
    """
    pk = lead.pk if isinstance(lead, Lead) else lead
    try:
        locked = Lead.objects.select_for_update().get(pk=pk)
    except Lead.DoesNotExist:
        raise TransitionNotAllowed(_("This lead no longer exists.")) from None
    locked.as_seen = lead if isinstance(lead, Lead) else None
    return locked


def lock_now(lead, at=None):
    """``lock(lead)`` and the moment of the transition: ``at`` when the caller names one,
    else now, read once the lock is held. A time read before it could be older than that
    of the transition that held the lock meanwhile, and the stage log would run backwards."""
    lead = lock(lead)
    return lead, at or timezone.now()


def cannot_go(from_stage, to_stage):
    return TransitionNotAllowed(
        _("A lead cannot go from %(from)s to %(to)s.")
        % {"from": stage_label(from_stage), "to": stage_label(to_stage)}
    )


def refuse(lead, action):
    return TransitionNotAllowed(
        _("Cannot %(action)s: it is at the “%(stage)s” stage.")
        % {"action": action, "stage": stage_label(lead.stage)}
    )


# --- the lifecycle table (SPEC §3) -------------------------------------------------------
# One row per action: the stages it starts from, who may take it, the stage it moves to.
# The services enforce it (require_stage, and the actor checks below named by ``who``),
# the stage graph that move() validates is derived from it, and the pages' buttons are
# read from it (available); nothing else says which action goes from which stage.

MARKETING = "marketing"  # marketers and managers
OWNER = "owner"  # the lead's rep or a manager; on a queued lead, any rep (who claims it)
REP = "rep"  # any salesperson
MANAGER = "manager"

ON_QUEUE = "queue"  # only a lead in the unassigned queue
OFF_QUEUE = "assigned"  # only a lead that has a rep


@dataclass(frozen=True)
class Transition:
    from_stages: frozenset
    who: str
    phrase: str  # "Cannot <phrase>: it is at the … stage."
    to_stage: str | None = None  # None: the lead stays at its stage
    queue: str | None = None  # ON_QUEUE, OFF_QUEUE or either
    blocked_by_dispute: bool = False
    needs_dispute: bool = False
    offered: bool = True  # False: a step inside another action, never a button
    # The stage a move from any other of from_stages passes through first (a one-step win
    # from contacted is contacted -> opportunity -> won): no direct edge in the graph.
    via: str | None = None


OPEN_SALES = frozenset(SALES_STAGES)

TRANSITIONS = {
    "qualify": Transition(
        frozenset({Stage.NEW, Stage.NURTURE}),
        MARKETING,
        gettext_lazy("qualify this lead"),
        Stage.MQL,
    ),
    "nurture": Transition(
        frozenset({Stage.NEW, Stage.MQL}),
        MARKETING,
        gettext_lazy("move this lead to nurture"),
        Stage.NURTURE,
    ),
    "recycle": Transition(
        frozenset({Stage.REJECTED}),
        MARKETING,
        gettext_lazy("recycle this lead"),
        Stage.NURTURE,
        blocked_by_dispute=True,
    ),
    "disqualify": Transition(
        frozenset({Stage.NEW, Stage.MQL, Stage.NURTURE, Stage.REJECTED}),
        MARKETING,
        gettext_lazy("disqualify this lead"),
        Stage.DISQUALIFIED,
        blocked_by_dispute=True,
    ),
    "hand_off": Transition(
        frozenset({Stage.MQL, Stage.REJECTED}),
        MARKETING,
        gettext_lazy("hand off this lead"),
        Stage.HANDED_OFF,
        blocked_by_dispute=True,
    ),
    "dispute": Transition(
        frozenset({Stage.REJECTED}),
        MARKETING,
        gettext_lazy("dispute the rejection of this lead"),
        blocked_by_dispute=True,
    ),
    "claim": Transition(
        frozenset({Stage.HANDED_OFF}), REP, gettext_lazy("claim this lead"), queue=ON_QUEUE
    ),
    "accept": Transition(
        frozenset({Stage.HANDED_OFF}), OWNER, gettext_lazy("accept this lead"), Stage.ACCEPTED
    ),
    "reject": Transition(
        frozenset({Stage.HANDED_OFF, Stage.ACCEPTED}),
        OWNER,
        gettext_lazy("reject this lead"),
        Stage.REJECTED,
    ),
    # Also on a won or lost lead (SPEC §3): a note or a contact that changes no stage.
    "log": Transition(
        OPEN_SALES | {Stage.WON, Stage.LOST},
        OWNER,
        gettext_lazy("log a follow-up on this lead"),
        queue=OFF_QUEUE,
    ),
    "note": Transition(
        OPEN_SALES | {Stage.WON, Stage.LOST},
        OWNER,
        gettext_lazy("add a note to this lead"),
        queue=OFF_QUEUE,
    ),
    # Logging a call, email or meeting on an accepted lead (a handed-off one is accepted
    # first, in the same transaction).
    "contact": Transition(
        frozenset({Stage.ACCEPTED}),
        OWNER,
        gettext_lazy("log a follow-up on this lead"),
        Stage.CONTACTED,
        queue=OFF_QUEUE,
        offered=False,
    ),
    "opportunity": Transition(
        frozenset({Stage.CONTACTED}),
        OWNER,
        gettext_lazy("make an opportunity of this lead"),
        Stage.OPPORTUNITY,
        queue=OFF_QUEUE,
    ),
    "edit_opportunity": Transition(
        frozenset({Stage.OPPORTUNITY}),
        OWNER,
        gettext_lazy("edit this opportunity"),
        queue=OFF_QUEUE,
    ),
    # From contacted in one step: through opportunity, in one transaction (SPEC §3).
    "win": Transition(
        frozenset({Stage.CONTACTED, Stage.OPPORTUNITY}),
        OWNER,
        gettext_lazy("mark this lead as won"),
        Stage.WON,
        queue=OFF_QUEUE,
        via=Stage.OPPORTUNITY,
    ),
    "lose": Transition(
        frozenset({Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY}),
        OWNER,
        gettext_lazy("mark this lead as lost"),
        Stage.LOST,
        queue=OFF_QUEUE,
    ),
    # Back to the stage it closed from (move(..., reopen=True) checks that one).
    "reopen": Transition(
        frozenset({Stage.WON, Stage.LOST}), MANAGER, gettext_lazy("reopen this lead")
    ),
    "reassign": Transition(OPEN_SALES, MANAGER, gettext_lazy("reassign this lead")),
    "rule": Transition(
        frozenset({Stage.REJECTED}),
        MANAGER,
        gettext_lazy("rule on the rejection of this lead"),
        needs_dispute=True,
    ),
}

# The stage graph move() enforces: every (from, to) some action makes.
ALLOWED = {
    stage: {
        t.to_stage
        for t in TRANSITIONS.values()
        if t.to_stage and stage in t.from_stages and t.via in (None, stage)
    }
    for stage in Stage.values
}

DISPUTE_PENDING = gettext_lazy(
    "The rejection of this lead is disputed; wait for the manager's ruling."
)


def require_stage(action, lead):
    """Refuse ``action`` on a locked lead whose stage (or open dispute) does not allow it."""
    t = TRANSITIONS[action]
    if lead.stage not in t.from_stages:
        raise refuse(lead, t.phrase)
    if t.blocked_by_dispute and lead.disputed_at is not None:
        raise TransitionNotAllowed(DISPUTE_PENDING)


def may(user, action, lead):
    """Whether ``user``'s role lets them take ``action`` on ``lead`` (the table's ``who``)."""
    who = TRANSITIONS[action].who
    if who == MARKETING:
        return roles.can_market(user)
    if who == MANAGER:
        return roles.is_manager(user)
    if who == REP:
        return roles.is_rep(user)
    if lead.owner_id is None:  # the queue: a rep claims it by acting; a manager reassigns
        return roles.is_rep(user)
    return roles.is_manager(user) or (roles.is_rep(user) and lead.owner_id == user.pk)


def available(user, lead):
    """The actions ``user`` may take on ``lead`` now: what the pages offer. The services
    still decide, in a transaction; this only hides what could not succeed."""
    queued = lead.in_unassigned_queue
    out = set()
    for name, t in TRANSITIONS.items():
        if not t.offered or lead.stage not in t.from_stages:
            continue
        if (t.queue == ON_QUEUE and not queued) or (t.queue == OFF_QUEUE and queued):
            continue
        if (t.blocked_by_dispute and lead.disputed_at) or (
            t.needs_dispute and not lead.disputed_at
        ):
            continue
        if may(user, name, lead):
            out.add(name)
    return out


def move(lead, to_stage, *, by, at, note="", reopen=False, save=True):
    """Move a locked lead to ``to_stage``: validates the move, records the StageChange,
    sets ``stage``, ``owner_side`` and the timestamps of SPEC §3 (the caller saves the
    lead). With ``save=False`` the StageChange is returned unsaved, for bulk inserts."""
    from_stage = lead.stage
    if reopen:
        if from_stage not in (Stage.WON, Stage.LOST) or to_stage != lead.closed_from:
            raise refuse(lead, _("reopen this lead"))
    elif not can_move(from_stage, to_stage):
        raise cannot_go(from_stage, to_stage)
    lead.enter_stage(at)  # the court-time ledger (SPEC §3), in this same transaction
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


def require_lead_owner(lead, user, action=None):
    """Sales' actions on a locked lead: its rep, or a manager (SPEC §1). ``action`` names
    the table's row when a rep may take it on a queued lead too."""
    if roles.is_manager(user):
        return
    if not roles.is_rep(user):
        raise ActionForbidden(_("Only salespeople and managers can do this."))
    if lead.owner_id != user.pk:
        raise someone_else_acted(lead, user, action) or ActionForbidden(
            _("This lead is not assigned to you.")
        )


NO_LONGER_YOURS = gettext_lazy(
    "This lead is no longer yours (it was reassigned or handed back), so nothing was done."
)


# A queued lead another rep claimed before this user's (stale) page acted: told without
# naming them, as every lead out of the user's scope is (sales.views.actions).
CLAIMED_BY_ANOTHER = gettext_lazy("Another rep claimed this lead first, so nothing was done.")


def claimed_first(rep):
    return TransitionNotAllowed(_("%(rep)s claimed this lead first.") % {"rep": person(rep)})


def someone_else_acted(lead, rep, action=None):
    """The refusal (a 409, not a 403) for a rep who could act on the lead as their page or
    request read it (``lead.as_seen``: theirs, or queued when ``action`` may start there)
    but not on the locked lead, because someone acted first: another rep claimed it, a
    manager reassigned it, it went back to marketing. None when they never could, or when
    nothing changed in between."""
    seen = getattr(lead, "as_seen", None)
    from_queue = action is not None and TRANSITIONS[action].queue != OFF_QUEUE
    if seen is None or not (seen.owner_id == rep.pk or (from_queue and seen.in_unassigned_queue)):
        return None
    if (seen.stage, seen.owner_id) == (lead.stage, lead.owner_id):
        return None
    if seen.in_unassigned_queue and lead.owner is not None:
        return claimed_first(lead.owner)
    return TransitionNotAllowed(NO_LONGER_YOURS)


def save(lead, sla=None):
    """Write a lead after a transition: its stored flag deadlines follow its new state
    (``sla`` when the caller already resolved the lead's policy)."""
    refresh_deadlines(lead, sla)
    lead.save()
