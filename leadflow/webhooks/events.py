"""Events for integrations: written by the service that makes the change, in its
transaction, as one delivery per subscribed endpoint (README "Webhooks" has the schema).

The body carries ids, stages and reasons, never a person's contact details: a receiver
that needs them reads the lead through the API with its own token and rights.
"""

import uuid

from django.conf import settings
from django.utils import timezone

from .. import jobs, precompiled
from ..models import TEST_EVENT, DeliveryChannel, WebhookDelivery, WebhookEndpoint

SCHEMA_VERSION = 1
DELIVER_TASK = "leadflow.tasks.deliver_webhook"


def _iso(value):
    return value.isoformat() if value is not None else None


def lead_body(lead):
    return {
        "id": lead.pk,
        "stage": lead.stage,
        "owner_side": lead.owner_side,
        "origin": lead.origin,
        "campaign_id": lead.campaign_id,
        "owner_id": lead.owner_id,
        "rejection_reason": lead.rejection_reason or None,
        "lost_reason": lead.lost_reason or None,
        "deal_value": str(lead.deal_value) if lead.deal_value is not None else None,
        "url": settings.SITE_URL + lead.get_absolute_url(),
    }


def actor_body(user):
    if user is None:
        return None  # the public intake, the sweep
    return {"id": user.pk, "username": user.get_username()}


def flag_body(flag):
    return {
        "id": flag.pk,
        "kind": flag.kind,
        "side": flag.side,
        "responsible_id": flag.responsible_id,
        "due_at": _iso(flag.due_at),
        "raised_at": _iso(flag.raised_at),
    }


def body(event_type, *, event_id, at, lead=None, actor=None, flag=None):
    """The JSON body every receiver gets: every key always present (null when it does not
    apply), so a receiver's parser never meets a surprise."""
    return {
        "id": str(event_id),
        "type": event_type,
        "version": SCHEMA_VERSION,
        "occurred_at": _iso(at),
        "lead": lead_body(lead) if lead is not None else None,
        "actor": actor_body(actor),
        "flag": flag_body(flag) if flag is not None else None,
    }


# The attribute with_endpoint_check puts on a row: whether any endpoint was active then.
ANY_ENDPOINT = "any_active_webhook_endpoint"


def active_endpoints():
    """The endpoints that receive events (each filters them by type: Endpoint.wants)."""
    return WebhookEndpoint.objects.filter(is_active=True)


def with_endpoint_check(queryset):
    """``queryset`` whose rows also say (ANY_ENDPOINT) whether any endpoint was active
    when they were read. A hot path that reads a row anyway (the public intake reads its
    campaign) learns it in that same statement, and ``emit(..., checked_on=row)`` skips
    the endpoints' query when there was none: one round trip less per post while no
    integration is set up, and an endpoint made active is asked for by the very next
    read (no cache to invalidate)."""
    return queryset.annotate(**{ANY_ENDPOINT: precompiled.exists(ANY_ENDPOINT, active_endpoints)})


def subscribers(event_type):
    # A handful of endpoints at most: filtering the JSON list here works on every database.
    return [e for e in active_endpoints() if e.wants(event_type)]


def _delivery(endpoint, event_type, payload, now):
    """The (unsaved) delivery of one event to one endpoint, due at once."""
    return WebhookDelivery(
        endpoint=endpoint,
        channel=DeliveryChannel.WEBHOOK,
        event_id=payload["id"],
        event_type=event_type,
        payload=payload,
        created_at=now,
        next_attempt_at=now,
    )


def _queue(endpoint, event_type, payload, now):
    delivery = _delivery(endpoint, event_type, payload, now)
    delivery.save()
    jobs.enqueue(DELIVER_TASK, delivery.pk, 1)
    return delivery


def emit(event_type, *, lead=None, actor=None, flag=None, at=None, checked_on=None):
    """Queue ``event_type`` for every active endpoint subscribed to it, in the caller's
    transaction: a rolled-back change sends nothing, a committed one reaches each endpoint
    (retried until it answers or WEBHOOK_MAX_ATTEMPTS). One event id for all endpoints.
    ``checked_on``: a row read in this request through :func:`with_endpoint_check`; when
    it saw no active endpoint, none is asked for. Returns the deliveries."""
    if checked_on is not None and getattr(checked_on, ANY_ENDPOINT, True) is False:
        return []
    endpoints = subscribers(event_type)
    if not endpoints:
        return []
    now = timezone.now()
    payload = body(
        event_type, event_id=uuid.uuid4(), at=at or now, lead=lead, actor=actor, flag=flag
    )
    return [_queue(endpoint, event_type, payload, now) for endpoint in endpoints]


def emit_many(event_type, leads, *, actor=None, at=None):
    """:func:`emit` for many leads at once (the CSV import's batch): one event per lead,
    written with one query for the endpoints and one INSERT each for the deliveries and
    their outbox messages."""
    endpoints = subscribers(event_type)
    if not endpoints:
        return []
    now = timezone.now()
    deliveries = []
    for lead in leads:
        payload = body(event_type, event_id=uuid.uuid4(), at=at or now, lead=lead, actor=actor)
        deliveries += [_delivery(endpoint, event_type, payload, now) for endpoint in endpoints]
    deliveries = WebhookDelivery.objects.bulk_create(deliveries)
    jobs.enqueue_many(DELIVER_TASK, [(d.pk, 1) for d in deliveries])
    return deliveries


def send_test(endpoint, *, actor):
    """The manager's "send a test event": one ``webhook.test`` to this endpoint alone,
    signed and retried like any other, whatever it subscribed to."""
    now = timezone.now()
    payload = body(TEST_EVENT, event_id=uuid.uuid4(), at=now, actor=actor)
    return _queue(endpoint, TEST_EVENT, payload, now)
