"""The SLA pages (SPEC §4): managers edit thresholds, per-campaign overrides, business
hours and holidays, and see whether stored deadlines are being recomputed.

Managers only: anyone else gets a 403, anonymous users the login page. Every change goes
through leads.sla.services.
"""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import FormView

from campaigns.models import Campaign
from leadflow import roles
from leadflow.errors import InvalidInput
from leadflow.permissions import RoleRequiredMixin, role_required

from ..models import DeadlineRecompute, Flag, FlagKind, Holiday, SLAPolicy, SweepRun
from . import services as sla_services
from .calendar import global_policy
from .forms import GlobalPolicyForm, HolidayForm, OverrideForm

NOT_MANAGER = gettext_lazy("Only managers can change the SLA policy.")


manager_required = role_required(roles.is_manager, NOT_MANAGER)


class ManagerRequiredMixin(RoleRequiredMixin):
    role_rule = roles.is_manager
    role_message = NOT_MANAGER


def _apply_service_errors(form, call):
    """Run a service call for a form; its InvalidInput becomes a form error (never a 500)."""
    try:
        return call(), True
    except InvalidInput as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None, False


def _recompute_message(request, recompute):
    if recompute is not None:
        messages.info(
            request,
            _(
                "Stored deadlines of open leads are being recomputed in the background; "
                "flags follow when it is done."
            ),
        )


def running_recomputes():
    return list(
        DeadlineRecompute.objects.filter(finished_at__isnull=True)
        .select_related("campaign", "requested_by")
        .order_by("requested_at", "id")
    )


def _page_context(*, form=None, holiday_form=None):
    open_by_kind = dict(Flag.objects.open().values_list("kind").annotate(n=Count("id")).order_by())
    return {
        "form": form or GlobalPolicyForm(instance=global_policy()),
        "holiday_form": holiday_form or HolidayForm(),
        "overrides": list(
            SLAPolicy.objects.filter(is_global=False)
            .select_related("campaign", "campaign__owner")
            .order_by("campaign__name")
        ),
        "holidays": list(Holiday.objects.order_by("date")),
        "recomputes": running_recomputes(),
        "last_sweep": SweepRun.objects.order_by("-at", "-id").first(),
        "open_flags": [(kind, open_by_kind.get(kind.value, 0)) for kind in FlagKind],
        "campaigns_without_override": Campaign.objects.filter(sla_policy__isnull=True).exists(),
    }


@manager_required
@require_http_methods(["GET", "POST"])
def sla_policy(request):
    """The global thresholds and business hours, with the overrides and holidays."""
    form = GlobalPolicyForm(request.POST or None, instance=global_policy())
    if request.method == "POST" and form.is_valid():
        result, ok = _apply_service_errors(
            form, lambda: sla_services.sla_policy_update(by=request.user, data=form.cleaned_data)
        )
        if ok:
            _policy, recompute = result
            messages.success(request, _("The SLA policy was saved."))
            _recompute_message(request, recompute)
            return redirect("sla:policy")
    status = 400 if request.method == "POST" else 200
    return render(request, "leads/sla_policy.html", _page_context(form=form), status=status)


@manager_required
@require_GET
def sla_status(request):
    """The running deadline recomputes as an HTML fragment: static/js/sla.js swaps it into
    the page every few seconds while one runs."""
    return render(
        request,
        "leads/_sla_recompute_status.html",
        {"recomputes": running_recomputes(), "polled": True},
    )


@manager_required
@require_POST
def holiday_add(request):
    form = HolidayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        result, ok = _apply_service_errors(
            form,
            lambda: sla_services.holiday_add(
                by=request.user, date=data["date"], name=data["name"]
            ),
        )
        if ok:
            holiday, recompute = result
            messages.success(
                request, _("Holiday %(date)s added.") % {"date": date_format(holiday.date)}
            )
            _recompute_message(request, recompute)
            return redirect(reverse("sla:policy") + "#holidays")
    return render(request, "leads/sla_policy.html", _page_context(holiday_form=form), status=400)


@manager_required
@require_POST
def holiday_delete(request, pk):
    holiday = get_object_or_404(Holiday, pk=pk)
    recompute = sla_services.holiday_delete(by=request.user, holiday=holiday)
    messages.success(request, _("Holiday %(date)s removed.") % {"date": date_format(holiday.date)})
    _recompute_message(request, recompute)
    return redirect(reverse("sla:policy") + "#holidays")


class OverrideFormView(ManagerRequiredMixin, FormView):
    """Create (no campaign in the URL) or change a campaign's own thresholds."""

    template_name = "leads/sla_override_form.html"
    form_class = OverrideForm

    def get_override(self):
        campaign_id = self.kwargs.get("campaign_id")
        if campaign_id is None:
            return None
        return get_object_or_404(
            SLAPolicy.objects.select_related("campaign"), campaign_id=campaign_id
        )

    def dispatch(self, request, *args, **kwargs):
        self.override = None
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        self.override = self.get_override()
        if self.override is not None:
            kwargs["instance"] = self.override
        else:
            defaults = global_policy()
            kwargs["initial"] = {
                name: getattr(defaults, name) for name in sla_services.THRESHOLD_FIELDS
            }
            campaign = self.request.GET.get("campaign")
            if campaign and campaign.isdigit():
                kwargs["initial"]["campaign"] = int(campaign)
        return kwargs

    def get_context_data(self, **kwargs):
        return super().get_context_data(override=self.override, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        campaign = self.override.campaign if self.override else data["campaign"]
        result, ok = _apply_service_errors(
            form,
            lambda: sla_services.sla_override_save(
                by=self.request.user, campaign=campaign, data=data
            ),
        )
        if not ok:
            return self.form_invalid(form)
        _override, recompute = result
        messages.success(
            self.request, _("The SLA policy of %(campaign)s was saved.") % {"campaign": campaign}
        )
        _recompute_message(self.request, recompute)
        return redirect(reverse("sla:policy") + "#overrides")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


@manager_required
@require_http_methods(["GET", "POST"])
def override_delete(request, campaign_id):
    """GET asks to confirm; POST removes the override (the campaign follows the global
    policy again)."""
    override = get_object_or_404(
        SLAPolicy.objects.select_related("campaign"), campaign_id=campaign_id
    )
    if request.method == "POST":
        recompute = sla_services.sla_override_delete(by=request.user, campaign=override.campaign)
        messages.success(
            request,
            _("%(campaign)s follows the global SLA policy again.")
            % {"campaign": override.campaign},
        )
        _recompute_message(request, recompute)
        return redirect(reverse("sla:policy") + "#overrides")
    return render(request, "leads/sla_override_confirm_delete.html", {"override": override})
