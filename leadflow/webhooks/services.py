"""Managers' webhook endpoints and everyone's chat channels (SPEC §1: webhooks are the
managers'). Each function is one transaction; refusals are LeadflowErrors."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import permissions, roles
from ..errors import ActionForbidden, InvalidInput
from ..models import Profile, WebhookEndpoint, WebhookEvent
from . import events, signing, ssrf

ENDPOINT_FIELDS = ("url", "description", "events", "is_active")


def check_target(url, *, field="url", https_only=False):
    """Refuse a URL LeadFlow may not send to (leadflow/webhooks/ssrf.py) with a form error;
    returns it stripped."""
    url = (url or "").strip()
    try:
        target = ssrf.check(url)
    except ssrf.UnsafeTarget as exc:
        raise InvalidInput(str(exc), field=field) from None
    # Slack and Teams only serve https; plain http is for an allow-listed receiver.
    if https_only and target.scheme != "https" and not ssrf.allowed_host(target.host):
        raise InvalidInput(_("Chat webhook addresses start with https://."), field=field)
    return url


def _clean(data):
    values = {k: data[k] for k in ENDPOINT_FIELDS if k in data}
    if "url" in values:
        values["url"] = check_target(values["url"])
    if "events" in values:
        chosen = list(dict.fromkeys(values["events"] or []))
        unknown = [e for e in chosen if e not in WebhookEvent.values]
        if unknown:
            raise InvalidInput(
                _("Unknown event: %(event)s.") % {"event": unknown[0]}, field="events"
            )
        if not chosen:
            raise InvalidInput(_("Choose at least one event."), field="events")
        values["events"] = [e for e in WebhookEvent.values if e in chosen]
    if "description" in values:
        values["description"] = (values["description"] or "").strip()
    return values


@transaction.atomic
def endpoint_create(*, by, data):
    """A new endpoint with a new secret; returns ``(endpoint, secret)``. The caller shows
    the secret once."""
    permissions.require_manager(by)
    values = _clean(data)
    if "url" not in values:
        raise InvalidInput(_("Give the receiver's URL."), field="url")
    values.setdefault("events", [])
    if not values["events"]:
        raise InvalidInput(_("Choose at least one event."), field="events")
    endpoint = WebhookEndpoint.objects.create(**values, secret=signing.new_secret(), created_by=by)
    return endpoint, endpoint.secret


@transaction.atomic
def endpoint_update(*, endpoint, by, data):
    """Change the URL (checked again), events, description or active switch."""
    permissions.require_manager(by)
    values = _clean(data)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in values.items():
        setattr(endpoint, name, value)
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint, by):
    """Replace the secret at once; returns ``(endpoint, secret)``. Attempts from now on,
    retries of older events too, are signed with the new one."""
    permissions.require_manager(by)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = signing.new_secret()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return endpoint, endpoint.secret


@transaction.atomic
def endpoint_delete(*, endpoint, by):
    """Delete the endpoint and its delivery log; pending attempts find nothing to send."""
    permissions.require_manager(by)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


@transaction.atomic
def endpoint_send_test(*, endpoint, by):
    """Queue a ``webhook.test`` event for this endpoint (it need not subscribe to it)."""
    permissions.require_manager(by)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.is_active:
        raise InvalidInput(_("Switch the endpoint on before sending it a test event."))
    return events.send_test(endpoint, actor=by)


@transaction.atomic
def chat_channels_set(*, user, by, slack_webhook_url="", teams_webhook_url=""):
    """Set ``user``'s Slack and Teams incoming-webhook URLs (blank removes one): the user
    themselves or a manager. Each is checked like a webhook endpoint's URL."""
    if by.pk != user.pk and not roles.is_manager(by):
        raise ActionForbidden(_("Only managers can set another person's chat channels."))
    values = {
        "slack_webhook_url": (slack_webhook_url or "").strip(),
        "teams_webhook_url": (teams_webhook_url or "").strip(),
    }
    for name, url in values.items():
        if url:
            values[name] = check_target(url, field=name, https_only=True)
    profile, _created = Profile.objects.select_for_update().get_or_create(user=user)
    for name, url in values.items():
        setattr(profile, name, url)
    profile.save(update_fields=list(values))
    return profile
