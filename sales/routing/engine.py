"""The routing decision: the first active rule that matches a lead picks its target, a
rep, a team (smooth weighted round-robin over the members who are eligible) or the
unassigned queue, and the decision says which rule and why each rep was passed over.

Race safety. Committing a decision locks, after the lead the caller already holds, the
target team's row and then the candidates' profile rows in user-id order, always in that
order. Two hand-offs through one team take turns on the team row, so the round-robin
credits never interleave; two through different teams or rep rules that share a rep
take turns on that rep's profile, and each counts the rep's open leads only once it holds
the lock (a statement after the lock sees what the other one committed), so neither puts
a rep above their capacity."""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leadflow import roles
from leadflow.i18n import lazy_text
from leadflow.models import NotificationKind, Profile
from leadflow.notifications.notify import notify
from leadflow.webhooks.chat import post_to_channels
from leads.models import SALES_STAGES, Lead

from ..models import AssignmentRule, RuleTarget, Team, TeamMembership

# Why a rep was passed over.
UNAVAILABLE = "unavailable"
INACTIVE = "inactive"
NOT_A_REP = "not_a_rep"
AT_CAPACITY = "at_capacity"
# The rep the lead is being taken from (the escalation ladder's reassign).
HOLDS_IT = "holds_it"
REASONS = {
    UNAVAILABLE: gettext_lazy("unavailable"),
    INACTIVE: gettext_lazy("deactivated"),
    NOT_A_REP: gettext_lazy("no longer a salesperson"),
    AT_CAPACITY: gettext_lazy("at capacity"),
    HOLDS_IT: gettext_lazy("holds the lead now"),
}

# Where a lead went when no rep got it.
TEAM_QUEUE = "team_queue"  # nobody in the team was eligible: the team's queue
QUEUE = "queue"  # the rule targets the queue, or its rep was not eligible
NO_RULE = "no_rule"  # no rule matched: the unassigned queue


@dataclass(frozen=True)
class Facts:
    """What the rules look at, of a lead or of a made-up one (the preview)."""

    campaign_id: int | None = None
    channel: str = ""
    inquiry_type: str = ""
    country: str = ""
    score: int | None = None
    origin: str = ""

    @classmethod
    def of(cls, lead):
        return cls(
            campaign_id=lead.campaign_id,
            channel=lead.campaign.channel if lead.campaign_id else "",
            inquiry_type=lead.inquiry_type,
            country=lead.country,
            score=lead.score,
            origin=lead.origin,
        )


def matches(rule, facts):
    """Every condition the rule sets holds for ``facts`` (an unset one holds always)."""
    if rule.campaign_id is not None and rule.campaign_id != facts.campaign_id:
        return False
    if rule.channel and rule.channel != facts.channel:
        return False
    if rule.inquiry_type and rule.inquiry_type != facts.inquiry_type:
        return False
    countries = {c.casefold() for c in rule.country_list}
    if countries and facts.country.strip().casefold() not in countries:
        return False
    if rule.min_score is not None and (facts.score is None or facts.score < rule.min_score):
        return False
    if rule.max_score is not None and (facts.score is None or facts.score > rule.max_score):
        return False
    return not rule.origin or rule.origin == facts.origin


@dataclass
class Skip:
    user: object
    reason: str
    open_leads: int | None = None
    capacity: int | None = None


@dataclass
class Decision:
    """Where the rules send a lead: ``rep``, or the queue (of ``team`` when it is set)."""

    rule: AssignmentRule | None = None
    rep: object = None
    team: Team | None = None
    skipped: list = field(default_factory=list)
    fallback: str = ""

    def record(self):
        """The decision as Handoff.routing keeps it (names as they are now)."""
        return {
            "rule": self.rule.name if self.rule else "",
            "team": self.team.name if self.team else "",
            "fallback": self.fallback,
            "skipped": [
                {
                    "user": s.user.pk,
                    "name": s.user.get_username(),
                    "reason": s.reason,
                    "open": s.open_leads,
                    "max": s.capacity,
                }
                for s in self.skipped
            ],
        }

    def describe(self):
        return describe(self.record())


def skip_text(skip):
    reason = str(REASONS.get(skip["reason"], skip["reason"]))
    if skip["reason"] == AT_CAPACITY and skip.get("max") is not None:
        reason = _("at capacity (%(open)s of %(max)s open leads)") % {
            "open": skip["open"],
            "max": skip["max"],
        }
    return _("%(rep)s: %(reason)s") % {"rep": skip["name"], "reason": reason}


def describe(record):
    """One sentence of a stored routing record, in the reader's language (the timeline,
    the preview): the rule, the team, where the lead went and who was passed over why."""
    if not record:
        return ""
    if record.get("fallback") == NO_RULE:
        parts = [_("No assignment rule matched: to the unassigned queue.")]
    else:
        parts = [_("Assignment rule “%(rule)s”.") % {"rule": record.get("rule", "")}]
        if record.get("team"):
            parts.append(_("Team %(team)s.") % {"team": record["team"]})
        if record.get("fallback") == TEAM_QUEUE:
            parts.append(_("Nobody in the team was eligible: to the team's queue."))
        elif record.get("fallback") == QUEUE:
            parts.append(_("To the unassigned queue."))
    skipped = record.get("skipped") or []
    if skipped:
        parts.append(
            _("Passed over: %(reps)s.") % {"reps": "; ".join(skip_text(s) for s in skipped)}
        )
    return " ".join(parts)


def _open_leads(user_ids):
    return dict(
        Lead.objects.filter(owner__in=user_ids, stage__in=SALES_STAGES)
        .order_by()
        .values_list("owner")
        .annotate(n=Count("pk"))
    )


def _profiles(users, *, lock):
    """The candidates' profiles by user id; with ``lock``, their rows locked in user-id
    order (a missing profile is created first, so there is a row to lock)."""
    ids = sorted(u.pk for u in users)
    qs = Profile.objects.filter(user__in=ids).order_by("user_id")
    if lock:
        Profile.objects.bulk_create([Profile(user_id=i) for i in ids], ignore_conflicts=True)
        qs = qs.select_for_update()
    return {p.user_id: p for p in qs}


def _eligibility(users, *, lock, exclude=None):
    """(eligible users, [Skip]) in the order given, judged under the locks; never
    ``exclude`` (the rep a lead is taken from)."""
    profiles = _profiles(users, lock=lock)
    ids = [u.pk for u in users]
    reps = set(roles.active_reps().filter(pk__in=ids).values_list("pk", flat=True))
    open_leads = _open_leads(ids)
    eligible, skipped = [], []
    for user in users:
        profile = profiles.get(user.pk)
        capacity = profile.max_open_leads if profile else None
        held = open_leads.get(user.pk, 0)
        if exclude is not None and user.pk == exclude.pk:
            skipped.append(Skip(user, HOLDS_IT))
        elif not user.is_active:
            skipped.append(Skip(user, INACTIVE))
        elif user.pk not in reps:
            skipped.append(Skip(user, NOT_A_REP))
        elif profile is not None and not profile.is_available:
            skipped.append(Skip(user, UNAVAILABLE))
        elif capacity is not None and held >= capacity:
            skipped.append(Skip(user, AT_CAPACITY, held, capacity))
        else:
            eligible.append(user)
    return eligible, skipped, profiles


def _turn_key(membership, at):
    # Most credit first; a tie goes to whoever was given one longest ago (never first).
    last = membership.last_assigned_at
    return (-membership.credit, last is not None, last or at, membership.user_id)


def _route_team(rule, *, at, commit, exclude=None):
    team = rule.target_team
    if commit:
        team = Team.objects.select_for_update().get(pk=team.pk)
    memberships = list(
        TeamMembership.objects.filter(team=team).select_related("user").order_by("user_id")
    )
    eligible, skipped, profiles = _eligibility(
        [m.user for m in memberships], lock=commit, exclude=exclude
    )
    decision = Decision(rule=rule, team=team, skipped=skipped)
    chosen_ones = {u.pk for u in eligible}
    candidates = [m for m in memberships if m.user_id in chosen_ones]
    if not candidates:
        decision.fallback = TEAM_QUEUE
        return decision
    total = sum(m.weight for m in candidates)
    for m in candidates:
        m.credit += m.weight
    chosen = min(candidates, key=lambda m: _turn_key(m, at))
    chosen.credit -= total
    decision.rep = chosen.user
    if commit:
        # Read under the team's lock, not the caller's ``at`` (taken before it): ties go
        # to whoever was given one longest ago, and only this clock follows the order in
        # which concurrent hand-offs really took their turns.
        chosen.last_assigned_at = timezone.now()
        TeamMembership.objects.bulk_update(candidates, ["credit"])
        chosen.save(update_fields=["last_assigned_at"])
        _note_assignment(profiles[chosen.user_id], at)
    return decision


def _note_assignment(profile, at):
    # The global round-robin's bookkeeping too: this rep was just given a lead.
    profile.last_assigned_at = at
    profile.save(update_fields=["last_assigned_at"])


def _route_rep(rule, *, at, commit, exclude=None):
    eligible, skipped, profiles = _eligibility([rule.target_user], lock=commit, exclude=exclude)
    if not eligible:
        return Decision(rule=rule, skipped=skipped, fallback=QUEUE)
    if commit:
        _note_assignment(profiles[rule.target_user_id], at)
    return Decision(rule=rule, rep=rule.target_user)


def any_active_rule():
    """Whether "by the rules" can send a lead anywhere but the unassigned queue."""
    return AssignmentRule.objects.filter(is_active=True).exists()


def first_match(facts):
    rules = AssignmentRule.objects.filter(is_active=True).select_related(
        "target_user", "target_team"
    )
    return next((rule for rule in rules.order_by("position", "id") if matches(rule, facts)), None)


def route(lead, *, at, commit=True, exclude=None):
    """The rules' decision for ``lead`` (a Lead, or Facts of a made-up one). With
    ``commit`` (inside the caller's transaction, the lead locked) it takes the locks of the
    module docstring and moves the round-robin on; without, it only says what would
    happen now (the preview), writing nothing. ``exclude``: a rep who may not get it (the
    one the escalation ladder takes it from)."""
    facts = lead if isinstance(lead, Facts) else Facts.of(lead)
    rule = first_match(facts)
    if rule is None:
        return Decision(fallback=NO_RULE)
    if rule.target == RuleTarget.QUEUE:
        return Decision(rule=rule, fallback=QUEUE)
    if rule.target == RuleTarget.REP:
        return _route_rep(rule, at=at, commit=commit, exclude=exclude)
    return _route_team(rule, at=at, commit=commit, exclude=exclude)


def call_team(lead, team, *, actor=None):
    """A lead entered ``team``'s queue: tell its available members at once, in the app and
    by e-mail (through the outbox, in the caller's transaction). The first to claim it
    gets it (sales.services.lead_claim). Returns the reps told."""
    reps = list(
        roles.active_reps()
        .filter(team_memberships__team=team)
        .exclude(profile__is_available=False)
        .order_by("pk")
    )
    text = lazy_text(
        gettext_lazy("Waiting in the queue of team %(team)s: the first to claim it gets it."),
        team=team.name,
    )
    for rep in reps:
        notify(
            user=rep,
            kind=NotificationKind.TEAM_QUEUE,
            lead=lead,
            actor=actor,
            text=text,
            email=True,
        )
    # The team's own Slack or Teams channel, in the site's language.
    post_to_channels(
        team,
        text=f"{lead}: {text}",
        link=settings.SITE_URL + lead.get_absolute_url(),
    )
    return reps


def team_names(user):
    """The names of the teams ``user`` is a member of, A–Z (for GET /api/v1/users/)."""
    return list(
        Team.objects.filter(memberships__user=user).order_by("name").values_list("name", flat=True)
    )
