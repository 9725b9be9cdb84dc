from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import DetailView, FormView

from leadflow import roles
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError
from leadflow.http import forbidden, run_action, safe_next
from leadflow.names import person

from . import filters, lifecycle, services
from .filters import (
    KeysetPage,
    LeadFilterForm,
    SavedViewForm,
    default_views,
    view_errors,
    view_query,
)
from .forms import (
    BulkForm,
    DisputeForm,
    DisqualifyForm,
    HandOffForm,
    LeadContactForm,
    LeadForm,
    NoteForm,
    QualifyForm,
    rep_choices_queryset,
)
from .models import Flag, Lead, SavedView, Stage
from .timeline import build_timeline

User = get_user_model()

PER_PAGE = 50


def scoped_leads(user):
    """Every lead a view touches comes from here: another rep's lead is a 404."""
    return Lead.objects.for_user(user)


class LeadListView(LoginRequiredMixin, FormView):
    template_name = "leads/lead_list.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not roles.can_see_leads(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        user = request.user
        form = LeadFilterForm(request.GET, user=user)
        filtered, search = form.filter_and_search(
            scoped_leads(user).select_related("campaign", "owner")
        )
        page = KeysetPage(
            filtered,
            form.ordering(),
            request.GET.get("cursor"),
            PER_PAGE,
            search=search,
            count_cap=filters.COUNT_CAP,
        )
        if page.invalid_cursor:
            messages.warning(request, _("That page link was not valid; showing the first page."))
        leads = page.object_list
        Flag.objects.attach_open(leads)
        params = request.GET.copy()
        params.pop("cursor", None)
        reps = list(rep_choices_queryset())
        bar_day, kept = form.bar_moments()
        context = {
            "form": form,
            "bar_day": bar_day,
            # A "due before" with a time of day is a chip, not the date control.
            "bar_date_kept": any(name == form.BAR_DATE for name, *_rest in kept),
            # Each with the list without it, for the chip's remove link.
            "kept_moments": [
                (name, label, moment, raw, list_url(_without(params, name)))
                for name, label, moment, raw in kept
            ],
            "leads": leads,
            "page": page,
            "folded_active": form.folded_count(),
            "total": page.total,
            "total_capped": page.total_capped,
            "query": params.urlencode(),
            "reps": reps,
            "bulk_form": BulkForm(),
            "can_bulk": roles.can_market(user),
            "stages": Stage.choices,
            "export_url": reverse("leads:export") + (f"?{params.urlencode()}" if params else ""),
            **saved_view_context(request, form),
        }
        return render(request, self.template_name, context)


def _without(params, name):
    params = params.copy()
    params.pop(name, None)
    return params.urlencode()


def list_url(query, view_key=None):
    """The lead list showing ``query``, marked as saved view ``view_key``."""
    params = "&".join(p for p in (query, f"view={view_key}" if view_key else "") if p)
    return reverse("leads:list") + (f"?{params}" if params else "")


def saved_view_context(request, form):
    """The list's view pills (the defaults, then the user's and their team's saved views)
    and the form saving the current filters. One query."""
    user = request.user
    active = request.GET.get("view", "")
    pills = [
        {
            "name": view.name,
            "url": list_url(view.query, f"default-{view.key}"),
            "active": active == f"default-{view.key}",
            "is_default": True,
        }
        for view in default_views(user)
    ]
    for view in SavedView.objects.visible_to(user).select_related("owner"):
        key = str(view.pk)
        pills.append(
            {
                "name": view.name,
                "url": list_url(view.query, key),
                "active": active == key,
                "shared": view.shared,
                "owner": None if view.owner_id == user.pk else view.owner,
            }
        )
        if active == key and form.errors:
            messages.warning(
                request,
                _(
                    "The saved view “%(name)s” has a filter that is no longer valid, so no "
                    "leads are shown. Change the filters and save it again, or delete it."
                )
                % {"name": view.name},
            )
    # A save refused on the previous request (saved_view_create) comes back with what was
    # typed, the form open, once.
    draft = request.session.pop(SAVED_VIEW_DRAFT, None)
    initial = {"query": view_query(request.GET)}
    if draft:
        initial.update(name=draft.get("name", ""), shared=bool(draft.get("shared")))
    return {
        "view_pills": pills,
        "save_view_form": SavedViewForm(initial=initial),
        "save_view_refused": bool(draft),
    }


# The session key holding the name and sharing a refused "Save these filters" typed.
SAVED_VIEW_DRAFT = "saved_view_draft"


def _own_view_or_refusal(request, pk):
    """(view, None) for the user's own view; a 404 for one they cannot see, a 403 page
    for a teammate's shared one (seen, but only its owner changes it)."""
    view = get_object_or_404(SavedView.objects.visible_to(request.user), pk=pk)
    if view.owner_id != request.user.pk:
        return None, forbidden(request, _("Only the person who saved this view can change it."))
    return view, None


@login_required
def saved_view_list(request):
    """The user's saved views (rename, share, delete), their team's shared ones, and the
    defaults; a view whose filters no longer validate says why."""
    if not roles.can_see_leads(request.user):
        raise PermissionDenied
    return _saved_view_page(request)


def _saved_view_page(request, refused=None, status=200):
    """The saved views page; ``refused`` (view pk, typed name, typed sharing, reason) shows
    a refused rename again with what was typed and why."""
    user = request.user
    views = list(SavedView.objects.visible_to(user).select_related("owner"))
    for view in views:
        view.errors = view_errors(view.query, user)
        view.url = list_url(view.query, str(view.pk))
        view.mine = view.owner_id == user.pk
        view.typed_name, view.typed_shared, view.refusal = view.name, view.shared, None
        if refused and refused[0] == view.pk:
            view.typed_name, view.typed_shared, view.refusal = refused[1:]
    defaults = [
        {"name": view.name, "url": list_url(view.query, f"default-{view.key}")}
        for view in default_views(user)
    ]
    return render(
        request,
        "leads/savedview_list.html",
        {"views": views, "defaults": defaults},
        status=status,
    )


@login_required
@require_POST
def saved_view_create(request):
    """Save the list's current filters (the form's hidden ``query``) under a name."""
    if not roles.can_see_leads(request.user):
        raise PermissionDenied
    form = SavedViewForm(request.POST, user=request.user)
    back = list_url(view_query(QueryDict(request.POST.get("query", ""))))
    # A refusal goes back to the list (whose filters and links live at its own URL) with
    # the reason and what was typed, for the save form there to show again.
    draft = {"name": request.POST.get("name", "")[:200], "shared": "shared" in request.POST}
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        request.session[SAVED_VIEW_DRAFT] = draft
        return redirect(back)
    data = form.cleaned_data
    try:
        view = services.saved_view_save(
            by=request.user, name=data["name"], shared=data["shared"], query=data["query"]
        )
    except LeadflowError as exc:
        messages.error(request, exc.message)
        request.session[SAVED_VIEW_DRAFT] = draft
        return redirect(back)
    messages.success(request, _("View saved: %(name)s.") % {"name": view.name})
    return redirect(list_url(view.query, str(view.pk)))


@login_required
@require_POST
def saved_view_edit(request, pk):
    """Rename a saved view, or share it with the team or stop sharing it."""
    view, refusal = _own_view_or_refusal(request, pk)
    if refusal:
        return refusal
    name, shared = request.POST.get("name", ""), request.POST.get("shared") == "on"
    try:
        services.saved_view_save(by=request.user, view=view, name=name, shared=shared)
    except LeadflowError as exc:
        # The page again with the typed name in its field and the reason beside it.
        view.refresh_from_db()
        return _saved_view_page(request, refused=(view.pk, name, shared, exc.message))
    messages.success(request, _("View saved: %(name)s.") % {"name": view.name})
    return redirect("leads:saved_views")


@login_required
@require_POST
def saved_view_delete(request, pk):
    view, refusal = _own_view_or_refusal(request, pk)
    if refusal:
        return refusal
    name = view.name
    services.saved_view_delete(by=request.user, view=view)
    messages.success(request, _("View deleted: %(name)s.") % {"name": name})
    return redirect("leads:saved_views")


class LeadDetailView(LoginRequiredMixin, DetailView):
    template_name = "leads/lead_detail.html"
    context_object_name = "lead"

    def get_queryset(self):
        return scoped_leads(self.request.user).select_related(
            "campaign", "last_touch_campaign", "owner", "created_by"
        )

    def get_context_data(self, **kwargs):
        from sales.views.actions import lead_action_context

        context = super().get_context_data(**kwargs)
        lead = self.object
        user = self.request.user
        context["timeline"] = build_timeline(lead)
        context["utm"] = " · ".join(
            f"{name}={getattr(lead, f'utm_{name}')}"
            for name in ("source", "medium", "campaign", "term", "content")
            if getattr(lead, f"utm_{name}")
        )
        context["milestones"] = [
            (_("Created"), lead.created_at),
            (_("MQL"), lead.mql_at),
            (_("First handed off"), lead.handed_off_at),
            (_("Last handed off"), lead.last_handed_off_at),
            (_("Accepted"), lead.accepted_at),
            (_("Rejected"), lead.rejected_at),
            (_("First contact"), lead.first_contact_at),
            (_("First connect"), lead.first_connect_at),
            (_("Opportunity"), lead.opportunity_at),
            (_("Closed"), lead.closed_at),
        ]
        context["court_time"] = lead.court_time()
        context["open_flags"] = list(Flag.objects.open().filter(lead=lead).order_by("raised_at"))
        context["can_edit_contact"] = services.can_edit_contact(user, lead)
        if roles.can_market(user):
            context.update(marketing_action_context(lead, user))
        context.update(lead_action_context(self.request, lead))
        return context


def marketing_action_context(lead, user):
    """The marketing buttons this user gets on this lead, read from the lifecycle table."""
    actions = lifecycle.available(user, lead)
    return {
        **{
            f"can_{name}": name in actions
            for name in ("qualify", "nurture", "recycle", "disqualify", "hand_off", "dispute")
        },
        "qualify_form": QualifyForm(),
        "disqualify_form": DisqualifyForm(),
        "hand_off_form": HandOffForm(),
        "dispute_form": DisputeForm(),
        "note_form": NoteForm(),
    }


class LeadCreateView(LoginRequiredMixin, FormView):
    """Log a lead by hand; a known email adds a touch to the open lead instead."""

    template_name = "leads/lead_form.html"
    form_class = LeadForm

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not roles.can_log_leads(user):
            return forbidden(request, _("Only marketers, salespeople and managers can log leads."))
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        campaign = self.request.GET.get("campaign")
        if campaign and campaign.isdigit():
            kwargs.setdefault("initial", {})["campaign"] = int(campaign)
        return kwargs

    def form_valid(self, form):
        # A ticked box gives consent; an unticked one on a known email takes nothing back.
        data = {**form.cleaned_data, "consent": form.cleaned_data.get("consent") or None}
        try:
            result = services.lead_intake(
                by=self.request.user,
                data=data,
                campaign=data.get("campaign"),
                inquiry_type=data["inquiry_type"],
                source="manual",
                message=data.get("notes") or "",
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.form_invalid(form)
        except LeadflowError as exc:
            return forbidden(self.request, exc.message)
        lead = result.lead
        if result.created:
            messages.success(self.request, _("Lead logged: %(lead)s.") % {"lead": lead})
        elif not Lead.objects.for_user(self.request.user).filter(pk=lead.pk).exists():
            # Another rep's lead: record the touch, but show nothing of a lead this user
            # may not see (not its number, name or page).
            messages.info(self.request, services.OUT_OF_SCOPE_TOUCH)
            return redirect(reverse("home"))
        else:
            messages.info(
                self.request,
                format_html(
                    _("Added to existing lead {} (same email): a new touch was recorded."),
                    format_html('<a href="{}">#{} {}</a>', lead.get_absolute_url(), lead.pk, lead),
                ),
            )
        return redirect(lead.get_absolute_url())


@login_required
@require_http_methods(["GET", "POST"])
def lead_edit(request, pk):
    """Correct a lead's contact details: marketing and managers any lead in their scope, a
    rep their own leads."""
    # Out of the user's scope when the request reads it (another rep's lead, or one that
    # left this rep's hands before): a 404 that says nothing of it. A save that loses a
    # race under the lock is told so (lifecycle.someone_else_acted).
    lead = scoped_leads(request.user).filter(pk=pk).first()
    if lead is None:
        raise Http404
    if not services.can_edit_contact(request.user, lead):
        return forbidden(
            request, _("Only marketing, a manager or the lead's salesperson can do this.")
        )
    form = LeadContactForm(request.POST or None, instance=Lead.objects.get(pk=lead.pk))
    if request.method == "POST" and form.is_valid():
        try:
            _lead, changed = services.lead_update_contact(
                lead=lead, by=request.user, data=form.cleaned_data
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except ActionForbidden as exc:
            return forbidden(request, exc.message)
        except LeadflowError as exc:
            # Someone else acted first (the lead was reassigned while the form was open).
            messages.error(request, exc.message)
            return redirect("home")
        else:
            if changed:
                messages.success(request, _("Contact details saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect(lead.get_absolute_url())
    return render(request, "leads/lead_edit.html", {"lead": lead, "form": form})


def _qualify(request, lead, data):
    return services.lead_qualify(
        lead=lead, by=request.user, score=data["score"], note=data["note"]
    )


def _nurture(request, lead, data):
    return services.lead_nurture(lead=lead, by=request.user, note=data["note"])


def _recycle(request, lead, data):
    return services.lead_recycle(lead=lead, by=request.user, note=data["note"])


def _disqualify(request, lead, data):
    return services.lead_disqualify(
        lead=lead, by=request.user, reason=data["reason"], note=data["note"]
    )


def _dispute(request, lead, data):
    return services.dispute_raise(lead=lead, by=request.user, comment=data["comment"])


MARKETING_ACTIONS = {
    "qualify": (QualifyForm, _qualify, gettext_lazy("Qualified as MQL.")),
    "nurture": (NoteForm, _nurture, gettext_lazy("Moved to nurture.")),
    "recycle": (NoteForm, _recycle, gettext_lazy("Recycled to nurture.")),
    "disqualify": (DisqualifyForm, _disqualify, gettext_lazy("Disqualified.")),
    "dispute": (
        DisputeForm,
        _dispute,
        gettext_lazy("Rejection disputed; a manager will rule on it."),
    ),
}


@login_required
@require_POST
def lead_action(request, pk, action):
    """One marketing transition on one lead (qualify, nurture, recycle, disqualify, dispute)."""
    lead = get_object_or_404(scoped_leads(request.user), pk=pk)
    back = safe_next(request, lead.get_absolute_url())
    if not roles.can_market(request.user):
        return forbidden(request, _("Only marketers and managers can do this."))
    form_class, call, success = MARKETING_ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    return run_action(
        request, lambda: call(request, lead, form.cleaned_data), success=success, back=back
    )


@login_required
@require_POST
def lead_hand_off(request, pk):
    lead = get_object_or_404(scoped_leads(request.user), pk=pk)
    back = safe_next(request, lead.get_absolute_url())
    if not roles.can_market(request.user):
        return forbidden(request, _("Only marketers and managers can hand off leads."))
    form = HandOffForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)

    def hand_off():
        handoff = services.lead_hand_off(lead=lead, by=request.user, **form.service_kwargs())
        if handoff.to_user:
            target = person(handoff.to_user)
        elif handoff.team:
            target = _("the queue of team %(team)s") % {"team": handoff.team.name}
        else:
            target = _("the sales queue")
        messages.success(request, _("Handed off to %(target)s.") % {"target": target})

    return run_action(request, hand_off, success=None, back=back)
