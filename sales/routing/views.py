"""Managers' pages of routing: teams, reps' capacity, and the assignment rules with their
"try a lead" preview."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from leadflow import roles
from leadflow.errors import InvalidInput, LeadflowError
from leadflow.permissions import role_required
from leads.models import SALES_STAGES, Stage

from ..models import AssignmentRule, Handoff, Team, TeamMembership
from . import engine, services
from .forms import CapacityForm, PreviewForm, RuleForm, TeamForm

User = get_user_model()

manager_required = role_required(
    roles.is_manager, gettext_lazy("Only managers can manage teams and assignment rules.")
)


def _form_error(form, exc):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _queued_per_team():
    """Leads waiting in each team's queue now: handed off, no rep, routed to that team."""
    return dict(
        Handoff.objects.filter(
            team__isnull=False,
            to_user__isnull=True,
            outcome="",
            lead__stage=Stage.HANDED_OFF,
            lead__owner__isnull=True,
        )
        .order_by()
        .values_list("team")
        .annotate(n=Count("lead", distinct=True))
    )


@manager_required
def teams(request):
    members = TeamMembership.objects.select_related("user", "user__profile").order_by(
        "user__username"
    )
    team_list = list(
        Team.objects.select_related("lead").prefetch_related(Prefetch("memberships", members))
    )
    queued = _queued_per_team()
    for team in team_list:
        team.queued = queued.get(team.pk, 0)
    reps = list(
        roles.active_reps()
        .select_related("profile")
        .annotate(open_leads=Count("owned_leads", filter=Q(owned_leads__stage__in=SALES_STAGES)))
        .order_by("username")
    )
    return render(request, "sales/team_list.html", {"teams": team_list, "reps": reps})


@manager_required
@require_http_methods(["GET", "POST"])
def team_edit(request, pk=None):
    team = get_object_or_404(Team, pk=pk) if pk else None
    form = TeamForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.team_save(
                by=request.user,
                team=team,
                name=data["name"],
                lead=data["lead"],
                members=form.members(),
                slack_webhook_url=data["slack_webhook_url"],
                teams_webhook_url=data["teams_webhook_url"],
            )
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Team %(team)s saved.") % {"team": saved.name})
            return redirect("sales:routing_teams")
    title = _("Edit team %(team)s") % {"team": team.name} if team else _("New team")
    return render(request, "sales/team_form.html", {"form": form, "team": team, "title": title})


@manager_required
@require_POST
def team_delete(request, pk):
    team = get_object_or_404(Team, pk=pk)
    try:
        services.team_delete(by=request.user, team=team)
    except LeadflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Team %(team)s deleted.") % {"team": team.name})
    return redirect("sales:routing_teams")


@manager_required
@require_POST
def rep_capacity(request, user_id):
    rep = get_object_or_404(roles.active_reps(), pk=user_id)
    form = CapacityForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(reverse("sales:routing_teams") + "#capacity")
    try:
        services.rep_set_capacity(
            by=request.user, rep=rep, max_open_leads=form.cleaned_data["max_open_leads"]
        )
    except LeadflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Capacity of %(rep)s saved.") % {"rep": rep.get_full_name() or rep}
        )
    return redirect(reverse("sales:routing_teams") + "#capacity")


@manager_required
def rules(request):
    """The rules in the order they are tried, and the preview: a GET form, since trying a
    lead changes nothing."""
    rule_list = list(
        AssignmentRule.objects.select_related("campaign", "target_user", "target_team")
    )
    preview = PreviewForm(request.GET if "try" in request.GET else None)
    decision = None
    if preview.is_bound and preview.is_valid():
        decision = engine.route(preview.facts(), at=timezone.now(), commit=False)
    context = {"rules": rule_list, "preview": preview, "decision": decision}
    return render(request, "sales/assignmentrule_list.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk=None):
    rule = get_object_or_404(AssignmentRule, pk=pk) if pk else None
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.rule_save(by=request.user, rule=rule, data=form.cleaned_data)
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Rule “%(rule)s” saved.") % {"rule": saved.name})
            return redirect("sales:routing_rules")
    title = _("Edit rule “%(rule)s”") % {"rule": rule.name} if rule else _("New assignment rule")
    return render(
        request, "sales/assignmentrule_form.html", {"form": form, "rule": rule, "title": title}
    )


@manager_required
@require_POST
def rule_move(request, pk):
    rule = get_object_or_404(AssignmentRule, pk=pk)
    steps = {"up": -1, "down": 1}.get(request.POST.get("direction"))
    if steps is None:
        messages.error(request, _("Move a rule up or down."))
        return redirect("sales:routing_rules")
    services.rule_move(by=request.user, rule=rule, steps=steps)
    return redirect("sales:routing_rules")


@manager_required
@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(AssignmentRule, pk=pk)
    services.rule_delete(by=request.user, rule=rule)
    messages.success(request, _("Rule “%(rule)s” deleted.") % {"rule": rule.name})
    return redirect("sales:routing_rules")
