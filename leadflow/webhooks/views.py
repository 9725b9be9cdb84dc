"""The managers' webhook pages: endpoints, their delivery log, test events and secrets;
and the chat channels of each person (their own on the profile page)."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from .. import roles
from ..errors import LeadflowError
from ..http import forbidden, run_action
from ..models import Profile, WebhookEndpoint
from ..permissions import role_required
from . import services
from .forms import ChatChannelsForm, EndpointForm

User = get_user_model()

manager_required = role_required(
    roles.is_manager, gettext_lazy("Only managers can manage webhooks.")
)

LOG_LIMIT = 100


def _apply(form, call):
    """Run a service for a valid form: its result, or None when it refused (the refusal is
    then the form's error)."""
    try:
        return call()
    except LeadflowError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.message)
        return None


def _secret_page(request, endpoint, secret):
    response = _detail(request, endpoint, secret=secret)
    # The page holds a secret: keep it out of caches and the back-forward history.
    response["Cache-Control"] = "no-store"
    return response


@manager_required
@require_http_methods(["GET"])
def endpoint_list(request):
    endpoints = WebhookEndpoint.objects.order_by("id")
    people = User.objects.filter(is_active=True).select_related("profile").order_by("username")
    return render(
        request, "leadflow/webhook_list.html", {"endpoints": endpoints, "people": people}
    )


@manager_required
@require_http_methods(["GET", "POST"])
def endpoint_create(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _apply(
            form, lambda: services.endpoint_create(by=request.user, data=form.cleaned_data)
        )
        if created:
            endpoint, secret = created
            messages.success(request, _("Endpoint created."))
            return _secret_page(request, endpoint, secret)
    return render(request, "leadflow/webhook_form.html", {"form": form})


def _detail(request, endpoint, *, form=None, secret=None):
    form = form or EndpointForm(
        initial={
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.events,
            "is_active": endpoint.is_active,
        }
    )
    deliveries = endpoint.deliveries.order_by("-created_at", "-id")[:LOG_LIMIT]
    return render(
        request,
        "leadflow/webhook_detail.html",
        {"endpoint": endpoint, "form": form, "deliveries": deliveries, "secret": secret},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method == "GET":
        return _detail(request, endpoint)
    form = EndpointForm(request.POST)
    if form.is_valid() and _apply(
        form,
        lambda: services.endpoint_update(
            endpoint=endpoint, by=request.user, data=form.cleaned_data
        ),
    ):
        messages.success(request, _("Endpoint saved."))
        return redirect("webhooks:detail", pk=endpoint.pk)
    return _detail(request, endpoint, form=form)


@manager_required
@require_POST
def endpoint_rotate(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    endpoint, secret = services.endpoint_rotate_secret(endpoint=endpoint, by=request.user)
    messages.success(request, _("New secret made; the old one no longer signs anything."))
    return _secret_page(request, endpoint, secret)


@manager_required
@require_POST
def endpoint_test(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    return run_action(
        request,
        lambda: services.endpoint_send_test(endpoint=endpoint, by=request.user),
        success=_("Test event queued; its delivery appears in the log below."),
        back=endpoint.get_absolute_url(),
    )


@manager_required
@require_POST
def endpoint_delete(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    return run_action(
        request,
        lambda: services.endpoint_delete(endpoint=endpoint, by=request.user),
        success=_("Endpoint deleted."),
        back="webhooks:list",
    )


def channels_form(user, data=None, action=""):
    profile = Profile.objects.filter(user=user).first()
    initial = {
        "slack_webhook_url": profile.slack_webhook_url if profile else "",
        "teams_webhook_url": profile.teams_webhook_url if profile else "",
    }
    return ChatChannelsForm(data, initial=initial, action=action)


def _save_channels(request, user, form):
    return form.is_valid() and _apply(
        form,
        lambda: services.chat_channels_set(user=user, by=request.user, **form.cleaned_data),
    )


@manager_required
@require_http_methods(["GET", "POST"])
def user_channels(request, user_id):
    """A manager sets someone's chat channels."""
    person = get_object_or_404(User, pk=user_id)
    form = channels_form(person, request.POST or None)
    if request.method == "POST" and _save_channels(request, person, form):
        messages.success(request, _("Chat channels saved."))
        return redirect("webhooks:list")
    return render(request, "leadflow/chat_channels.html", {"form": form, "person": person})


@login_required
@require_POST
def my_channels(request):
    """Anyone sets their own chat channels, from their profile page."""
    if not roles.has_any_role(request.user):
        return forbidden(request, _("Your account has no LeadFlow role; ask a manager for one."))
    form = channels_form(request.user, request.POST)
    if _save_channels(request, request.user, form):
        messages.success(request, _("Chat channels saved."))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("profile")
