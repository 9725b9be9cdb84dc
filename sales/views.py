from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from leadflow import roles
from leads.models import SALES_STAGES, Lead


def lead_action_context(request, lead):
    """Context for templates/sales/_lead_actions.html on the lead page (sales' actions)."""
    return {}


@login_required
def inbox(request):
    if not (roles.is_rep(request.user) or roles.is_manager(request.user)):
        raise PermissionDenied
    leads = (
        Lead.objects.filter(owner=request.user, stage__in=SALES_STAGES)
        .select_related("campaign")
        .order_by("last_handed_off_at")[:100]
    )
    return render(request, "sales/inbox.html", {"leads": leads})


@login_required
def team(request):
    if not roles.is_manager(request.user):
        raise PermissionDenied
    return render(request, "sales/team.html", {})
