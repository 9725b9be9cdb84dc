"""Managers' pages for the people of LeadFlow (SPEC §1): every user with their role and
status, invitations, a user's role, deactivation with their open leads reassigned,
reactivation, and a link to unlock a locked-out login."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from leadflow import roles
from leadflow import services as leadflow_services
from leadflow.errors import InvalidInput, LeadflowError
from leadflow.models import Invitation
from leads.models import SALES_STAGES, Lead

from .. import services
from ..forms import ROLE_CHOICES, DeactivateForm, InviteForm, RoleForm
from .team import manager_required

User = get_user_model()

INVITATIONS_SHOWN = 50


def _users():
    return (
        User.objects.prefetch_related(Prefetch("groups", to_attr="role_groups"))
        .select_related("profile")
        .annotate(open_leads=Count("owned_leads", filter=Q(owned_leads__stage__in=SALES_STAGES)))
    )


def _attach_roles(users):
    for user in users:
        # roles.role_names reads this cache instead of a query per user.
        user._leadflow_roles = frozenset(
            g.name for g in user.role_groups if g.name in roles.ALL_ROLES
        )
        user.role_key = roles.role_key(user)
    return users


@manager_required
def users(request):
    """Everyone, active first, and the invitations not yet accepted."""
    people = _attach_roles(list(_users().order_by("-is_active", "username")))
    invitations = list(
        Invitation.objects.filter(accepted_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at", "-id")[:INVITATIONS_SHOWN]
    )
    return render(request, "sales/user_list.html", {"people": people, "invitations": invitations})


@login_required
@require_http_methods(["GET", "POST"])
@manager_required
def user_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = leadflow_services.invitation_create(
                by=request.user, email=data["email"], role=data["role"]
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except LeadflowError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s: the link works until %(date)s.")
                % {"email": invitation.email, "date": _date(invitation.expires_at)},
            )
            return redirect("sales:users")
    return render(request, "sales/user_invite.html", {"form": form})


def _date(at):
    return date_format(localtime(at), "DATETIME_FORMAT")


@manager_required
def user_detail(request, user_id):
    user = get_object_or_404(_users(), pk=user_id)
    _attach_roles([user])
    context = {
        "person": user,
        "role_form": RoleForm(initial={"role": user.role_key}),
        "deactivate_form": DeactivateForm(user=user, holds_leads=bool(user.open_leads)),
        "here": request.get_full_path(),
        "is_self": user.pk == request.user.pk,
    }
    return render(request, "sales/user_detail.html", context)


def _refused(request, user, exc):
    messages.error(request, exc.message)
    return redirect("sales:user_detail", user.pk)


@login_required
@require_POST
@manager_required
def user_role(request, user_id):
    user = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose marketing, sales or manager."))
        return redirect("sales:user_detail", user.pk)
    try:
        services.user_set_role(user=user, by=request.user, role=form.cleaned_data["role"])
    except LeadflowError as exc:
        return _refused(request, user, exc)
    role = dict(ROLE_CHOICES)[form.cleaned_data["role"]]
    messages.success(
        request,
        _("%(user)s now has the role %(role)s.") % {"user": user.get_username(), "role": role},
    )
    return redirect("sales:user_detail", user.pk)


@login_required
@require_POST
@manager_required
def user_deactivate(request, user_id):
    user = get_object_or_404(User, pk=user_id)
    holds_leads = Lead.objects.filter(owner=user, stage__in=SALES_STAGES).exists()
    form = DeactivateForm(request.POST, user=user, holds_leads=holds_leads)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("sales:user_detail", user.pk)
    data = form.cleaned_data
    try:
        result = services.user_deactivate(
            user=user,
            by=request.user,
            reassign=data["reassign"],
            to_user=data["to_user"],
            note=data["note"],
        )
    except LeadflowError as exc:
        return _refused(request, user, exc)
    parts = [
        ngettext("%(n)s lead to %(rep)s", "%(n)s leads to %(rep)s", n)
        % {"n": n, "rep": rep.get_username()}
        for rep, n in sorted(result.to_reps.items(), key=lambda item: item[0].get_username())
    ]
    if result.to_queue:
        parts.append(
            ngettext("%(n)s lead to the queue", "%(n)s leads to the queue", result.to_queue)
            % {"n": result.to_queue}
        )
    message = _("%(user)s is deactivated and can no longer log in.") % {
        "user": user.get_username()
    }
    if parts:
        message += " " + _("Open leads moved: %(moves)s.") % {"moves": ", ".join(parts)}
    messages.success(request, message)
    return redirect("sales:user_detail", user.pk)


@login_required
@require_POST
@manager_required
def user_reactivate(request, user_id):
    user = get_object_or_404(User, pk=user_id)
    try:
        services.user_reactivate(user=user, by=request.user)
    except LeadflowError as exc:
        return _refused(request, user, exc)
    messages.success(request, _("%(user)s can log in again.") % {"user": user.get_username()})
    return redirect("sales:user_detail", user.pk)


@login_required
@require_POST
@manager_required
def invitation_resend(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        invitation = leadflow_services.invitation_resend(invitation=invitation, by=request.user)
    except LeadflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Invitation sent again to %(email)s: the earlier link no longer works.")
            % {"email": invitation.email},
        )
    return redirect(reverse("sales:users"))


@login_required
@require_POST
@manager_required
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        leadflow_services.invitation_revoke(invitation=invitation, by=request.user)
    except LeadflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Invitation of %(email)s withdrawn.") % {"email": invitation.email}
        )
    return redirect(reverse("sales:users"))
