"""The pipeline pages (SPEC §3): the board of open leads by stage, its card moves, and the
forecast. Moving a card calls the services the lead page calls, with the same checks and
refusals; static/js/board.js adds drag and drop over the cards' forms."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from leadflow import roles
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError
from leadflow.http import forbidden, safe_next
from leads import lifecycle
from leads.models import Lead, Stage

from .. import services
from ..forms import ForecastForm, PipelineFilterForm
from ..pipeline import board, forecast, pipeline_owners


def _owners(request, form):
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    return pipeline_owners(request.user, owner=data.get("owner"), team=data.get("team"))


def _list_owner(request, form):
    """The lead list's ``owner`` filter for the board's rep (LeadFilterForm): "me" for a
    rep, the chosen rep's id for a manager; None for a team (the list has no team filter)."""
    if not roles.is_manager(request.user):
        return "me"
    owner = form.cleaned_data.get("owner") if form.is_bound and form.is_valid() else None
    return str(owner.pk) if owner is not None else None


@login_required
@require_GET
def board_view(request):
    """A rep's open leads by stage (BOARD_STAGES); managers choose the rep or team."""
    if not roles.can_work_sales(request.user):
        return forbidden(request, _("Only salespeople and managers have a pipeline."))
    form = PipelineFilterForm(request.GET or None)
    try:
        owners = _owners(request, form)
    except ActionForbidden as exc:
        return forbidden(request, exc.message)
    # A manager first picks whose board: everyone's open leads make no board (None).
    columns = board(owners, request.user) if owners is not None else []
    list_owner = _list_owner(request, form)
    if list_owner is not None:
        # "and 757 more": the lead list of the same leads, this rep's in this stage.
        for column in columns:
            query = urlencode({"owner": list_owner, "stage": column.stage})
            column.more_url = f"{reverse('leads:list')}?{query}"
    return render(
        request,
        "sales/pipeline_board.html",
        {
            "form": form,
            "columns": columns,
            "here": request.get_full_path(),
            "choose": roles.is_manager(request.user),
        },
    )


def _move(request, lead, to):
    """The service a move to ``to`` calls. To contacted is logging a call, email or meeting:
    the log form (None here) takes it."""
    if to == Stage.OPPORTUNITY:
        services.lead_to_opportunity(lead=lead, by=request.user)
        return _("%(lead)s is now an opportunity.") % {"lead": lead}
    if to == Stage.ACCEPTED:
        services.lead_accept(lead=lead, by=request.user)
        return _("Accepted %(lead)s.") % {"lead": lead}
    raise InvalidInput(_("Choose a column of the board."), field="to")


@login_required
@require_POST
def board_move(request, pk):
    """Move a card: the same service, the same refusal (a message, or JSON ``{"detail"}``
    with 409/403/400 for the board's script). To contacted goes to the log form."""
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    lead = Lead.objects.for_user(request.user).filter(pk=pk).first()
    if lead is None:
        raise Http404
    back = safe_next(request, reverse("sales:board"))
    to = request.POST.get("to", "")
    if to == Stage.CONTACTED and lead.stage == Stage.ACCEPTED:
        log = f"{reverse('sales:log', args=[lead.pk])}?next={back}"
        if wants_json:
            return JsonResponse({"detail": _("Log the call, email or meeting."), "url": log})
        return redirect(log)
    try:
        if to == lead.stage:
            raise InvalidInput(_("The lead is already in that column."), field="to")
        if to == Stage.CONTACTED:
            raise lifecycle.cannot_go(lead.stage, to)
        success = _move(request, lead, to)
    except LeadflowError as exc:
        status = (
            403
            if isinstance(exc, ActionForbidden)
            else 400
            if isinstance(exc, InvalidInput)
            else 409
        )
        if wants_json:
            return JsonResponse({"detail": str(exc.message)}, status=status)
        if status == 403:
            return forbidden(request, exc.message)
        messages.error(request, exc.message)
        return redirect(back)
    # Also for the board's script, which reloads to redraw the card in its new column.
    messages.success(request, success)
    if wants_json:
        return JsonResponse({"detail": success, "stage": to})
    return redirect(back)


@login_required
@require_GET
def forecast_view(request):
    """The forecast per rep and month; managers per team and for everyone."""
    if not roles.can_work_sales(request.user):
        return forbidden(request, _("Only salespeople and managers have a pipeline."))
    form = ForecastForm(request.GET or {})
    try:
        owners = _owners(request, form)
    except ActionForbidden as exc:
        return forbidden(request, exc.message)
    data = None
    if form.is_valid():
        data = forecast(
            owners, form.cleaned_data["months"], per_team=roles.is_manager(request.user)
        )
    return render(
        request,
        "sales/pipeline_forecast.html",
        {"form": form, "forecast": data, "choose": roles.is_manager(request.user)},
    )
