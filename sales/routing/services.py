"""Managers' changes to teams, assignment rules and reps' capacity (SPEC §1). The pages
and the API both call these, so a rule about valid input is written once; a refusal is an
InvalidInput naming the field."""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from campaigns.models import Channel
from leadflow import permissions, roles
from leadflow.errors import InvalidInput
from leadflow.models import Profile
from leadflow.webhooks.services import check_target
from leads.models import InquiryType, Origin
from leads.services import validate_rep

from ..models import AssignmentRule, RuleTarget, Team, TeamMembership

MAX_WEIGHT = 100
MAX_CAPACITY = 10_000


def _validate_lead(user):
    if user is None or not user.is_active or not roles.is_manager(user):
        raise InvalidInput(_("Choose an active manager as the team lead."), field="lead")


def _validate_members(members):
    """[(rep, weight)] checked: active reps, each once, weights 1–100."""
    seen = set()
    for rep, weight in members:
        try:
            validate_rep(rep)
        except InvalidInput:
            raise InvalidInput(
                _("%(user)s is not an active salesperson.") % {"user": rep.get_username()},
                field="members",
            ) from None
        if rep.pk in seen:
            raise InvalidInput(
                _("%(user)s is in the list twice.") % {"user": rep.get_username()},
                field="members",
            )
        seen.add(rep.pk)
        if not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
            raise InvalidInput(
                _("A weight is a whole number from 1 to %(max)s.") % {"max": MAX_WEIGHT},
                field="members",
            )


@transaction.atomic
def team_save(
    *, by, team=None, name, lead, members, slack_webhook_url=None, teams_webhook_url=None
):
    """Create or change a team: its name (unique, any case), its lead (an active manager),
    its members as [(rep, weight)] and, when given, its Slack and Teams channels (checked
    against SSRF as a person's are). A member who stays keeps their place in the
    round-robin; a new one starts level with the team."""
    permissions.require_manager(by)
    channels = {
        field: check_target(url, field=field, https_only=True) if url else ""
        for field, url in (
            ("slack_webhook_url", slack_webhook_url),
            ("teams_webhook_url", teams_webhook_url),
        )
        if url is not None
    }
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the team a name."), field="name")
    if len(name) > 100:
        raise InvalidInput(_("A team name has at most 100 characters."), field="name")
    _validate_lead(lead)
    _validate_members(members)
    if team is not None and team.pk:
        team = Team.objects.select_for_update().get(pk=team.pk)
    else:
        team = Team()
    clash = Team.objects.filter(name__iexact=name)
    if team.pk:
        clash = clash.exclude(pk=team.pk)
    if clash.exists():
        raise InvalidInput(_("Another team already has this name."), field="name")
    team.name, team.lead = name, lead
    for field, url in channels.items():
        setattr(team, field, url)
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:  # the same name saved by a concurrent change
        raise InvalidInput(_("Another team already has this name."), field="name") from None
    weights = {rep.pk: weight for rep, weight in members}
    current = {m.user_id: m for m in TeamMembership.objects.filter(team=team)}
    TeamMembership.objects.filter(team=team).exclude(user__in=list(weights)).delete()
    changed = []
    for user_id, weight in weights.items():
        membership = current.get(user_id)
        if membership is None:
            TeamMembership.objects.create(team=team, user_id=user_id, weight=weight)
        elif membership.weight != weight:
            membership.weight = weight
            changed.append(membership)
    TeamMembership.objects.bulk_update(changed, ["weight"])
    return team


@transaction.atomic
def team_delete(*, by, team):
    """Delete a team no rule sends leads to (the handoffs it routed keep its name)."""
    permissions.require_manager(by)
    team = Team.objects.select_for_update().get(pk=team.pk)
    rules = list(team.rules.order_by("position").values_list("name", flat=True))
    if rules:
        raise InvalidInput(
            _("Assignment rules send leads to this team (%(rules)s): change them first.")
            % {"rules": ", ".join(rules)},
            field="team",
        )
    team.delete()


RULE_FIELDS = (
    "name",
    "is_active",
    "campaign",
    "channel",
    "inquiry_type",
    "countries",
    "min_score",
    "max_score",
    "origin",
    "target",
    "target_user",
    "target_team",
)


def _check_choice(value, choices, field):
    if value and value not in choices:
        raise InvalidInput(_("Choose one of the options."), field=field)


def validate_rule(rule):
    """Check and normalise an unsaved or changed rule in place (the form runs it too, for
    its field messages): a refusal is an InvalidInput naming the field."""
    rule.name = (rule.name or "").strip()
    if not rule.name:
        raise InvalidInput(_("Give the rule a name."), field="name")
    if len(rule.name) > 100:
        raise InvalidInput(_("A rule name has at most 100 characters."), field="name")
    _check_choice(rule.channel, Channel.values, "channel")
    _check_choice(rule.inquiry_type, InquiryType.values, "inquiry_type")
    _check_choice(rule.origin, Origin.values, "origin")
    rule.countries = ", ".join(c.strip() for c in (rule.countries or "").split(",") if c.strip())
    if len(rule.countries) > 300:
        raise InvalidInput(_("List at most 300 characters of countries."), field="countries")
    for field in ("min_score", "max_score"):
        value = getattr(rule, field)
        if value is not None and not 0 <= value <= 100:
            raise InvalidInput(_("A score is from 0 to 100."), field=field)
    low, high = rule.min_score, rule.max_score
    if low is not None and high is not None and low > high:
        raise InvalidInput(_("The lowest score cannot be above the highest."), field="max_score")
    if rule.campaign is not None and rule.channel and rule.campaign.channel != rule.channel:
        raise InvalidInput(
            _("That campaign's channel is %(channel)s: this rule could never match.")
            % {"channel": rule.campaign.get_channel_display()},
            field="channel",
        )
    if rule.target == RuleTarget.REP:
        try:
            validate_rep(rule.target_user)
        except InvalidInput:
            raise InvalidInput(_("Choose an active salesperson."), field="target_user") from None
        rule.target_team = None
    elif rule.target == RuleTarget.TEAM:
        if rule.target_team is None:
            raise InvalidInput(_("Choose the team."), field="target_team")
        rule.target_user = None
    elif rule.target == RuleTarget.QUEUE:
        rule.target_user = rule.target_team = None
    else:
        raise InvalidInput(_("Choose where the rule sends leads."), field="target")


def _place(rule, position):
    """Put ``rule`` at ``position`` (1 = tried first; None = where it is, or last) and
    number every rule 1..n. The rules are locked so two reorders do not interleave."""
    others = [
        r
        for r in AssignmentRule.objects.select_for_update().order_by("position", "id")
        if r.pk != rule.pk
    ]
    if position is None:
        position = rule.position if rule.position else len(others) + 1
    index = min(max(position, 1), len(others) + 1) - 1
    ordered = others[:index] + [rule] + others[index:]
    for number, r in enumerate(ordered, start=1):
        r.position = number
    AssignmentRule.objects.bulk_update(ordered, ["position"])


@transaction.atomic
def rule_save(*, by, rule=None, data, position=None):
    """Create or change an assignment rule from ``data`` (RULE_FIELDS; missing ones keep
    their value) and put it at ``position`` (1 = first tried; None: a new rule goes last,
    a changed one stays)."""
    permissions.require_manager(by)
    if rule is not None and rule.pk:
        rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    else:
        rule = AssignmentRule(position=0)
    for key in RULE_FIELDS:
        if key in data:
            value = data[key]
            if key in ("channel", "inquiry_type", "countries", "origin", "name"):
                value = value or ""
            setattr(rule, key, value)
    validate_rule(rule)
    if not rule.pk:
        top = AssignmentRule.objects.aggregate(top=Max("position"))["top"] or 0
        rule.position = top + 1
    rule.save()
    _place(rule, position)
    return rule


@transaction.atomic
def rule_move(*, by, rule, steps):
    """Move a rule ``steps`` places (negative: earlier, tried sooner)."""
    permissions.require_manager(by)
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    _place(rule, max(rule.position + steps, 1))
    return rule


@transaction.atomic
def rule_delete(*, by, rule):
    permissions.require_manager(by)
    AssignmentRule.objects.filter(pk=rule.pk).delete()
    rest = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
    for number, r in enumerate(rest, start=1):
        r.position = number
    AssignmentRule.objects.bulk_update(rest, ["position"])


@transaction.atomic
def rep_set_capacity(*, by, rep, max_open_leads):
    """A rep's capacity: the rules skip them at this many open leads (None: no limit)."""
    permissions.require_manager(by)
    validate_rep(rep)
    if max_open_leads is not None and not 1 <= max_open_leads <= MAX_CAPACITY:
        raise InvalidInput(
            _("A capacity is from 1 to %(max)s open leads, or empty for no limit.")
            % {"max": MAX_CAPACITY},
            field="max_open_leads",
        )
    profile, _created = Profile.objects.select_for_update().get_or_create(user=rep)
    profile.max_open_leads = max_open_leads
    profile.save(update_fields=["max_open_leads"])
    return profile
