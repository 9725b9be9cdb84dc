"""Webhook events from the services (issue 18, item 6): each lifecycle change and each
raised flag is one event per subscribed endpoint, written in the change's transaction;
and end to end, a real receiver on loopback sees each event once, signed, with a retry
after it answered 500."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from leadflow import outbox
from leadflow.errors import LeadflowError
from leadflow.models import (
    DeliveryState,
    OutboxMessage,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from leadflow.webhooks import services as webhooks
from leadflow.webhooks.events import DELIVER_TASK
from leads import services as marketing
from leads.imports.reader import Row
from leads.models import Flag, Stage
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import drain_flag_outbox
from sales import services as sales
from tests.webhook_receiver import start_receiver, stop_receiver

from .conftest import T0, H

ALL_EVENTS = list(WebhookEvent.values)


@pytest.fixture
def endpoint(db, manager):
    # Saved directly: these tests send nothing (commit hooks do not run in a test's
    # transaction), so the address is never checked or reached.
    return WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", events=ALL_EVENTS, secret="whsec_test", created_by=manager
    )


def emitted(**filters):
    return Counter(WebhookDelivery.objects.filter(**filters).values_list("event_type", flat=True))


def events_since(mark):
    return Counter(
        WebhookDelivery.objects.filter(pk__gt=mark).values_list("event_type", flat=True)
    )


def last_id():
    return WebhookDelivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.django_db
def test_each_lifecycle_event_is_emitted_once_by_its_service(
    endpoint, make_lead, marketer, rep, manager
):
    mark = last_id()
    lead = make_lead.new()
    assert events_since(mark) == {"lead.created": 1}

    mark = last_id()
    lead = marketing.lead_qualify(lead=lead, by=marketer)
    assert events_since(mark) == {}  # not an event
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    assert events_since(mark) == {"lead.handed_off": 1}

    mark = last_id()
    sales.lead_accept(lead=lead, by=rep)
    assert events_since(mark) == {"lead.accepted": 1}

    sales.activity_log(lead=lead, by=rep, kind="call", outcome="connected")
    sales.lead_to_opportunity(lead=lead, by=rep, value="100")
    mark = last_id()
    sales.lead_win(lead=lead, by=rep, value="500")
    assert events_since(mark) == {"lead.won": 1}
    [won] = WebhookDelivery.objects.filter(pk__gt=mark)
    assert won.payload["lead"]["id"] == lead.pk
    assert won.payload["lead"]["stage"] == Stage.WON
    assert won.payload["lead"]["deal_value"] == "500.00"
    assert won.payload["actor"] == {"id": rep.pk, "username": rep.username}
    assert won.payload["flag"] is None

    lost = make_lead(Stage.ACCEPTED)
    mark = last_id()
    sales.lead_lose(lead=lost, by=rep, reason="price")
    assert events_since(mark) == {"lead.lost": 1}

    rejected = make_lead(Stage.HANDED_OFF)
    mark = last_id()
    sales.lead_reject(lead=rejected, by=rep, reason="not_a_fit")
    assert events_since(mark) == {"lead.rejected": 1}
    [event] = WebhookDelivery.objects.filter(pk__gt=mark)
    assert event.payload["lead"]["rejection_reason"] == "not_a_fit"


@pytest.mark.django_db
def test_a_first_contact_that_accepts_a_lead_emits_lead_accepted(endpoint, make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    mark = last_id()
    sales.activity_log(lead=lead, by=rep, kind="call", outcome="connected")
    assert events_since(mark) == {"lead.accepted": 1}


@pytest.mark.django_db
def test_an_overturned_rejection_is_handed_off_again(endpoint, make_lead, marketer, manager, rep):
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="They have budget")
    mark = last_id()
    sales.dispute_rule(dispute=dispute, by=manager, ruling="overturned", to_user=rep)
    assert events_since(mark) == {"lead.handed_off": 1}


@pytest.mark.django_db
def test_imported_leads_are_created_events_too(endpoint, marketer, campaign):
    rows = [
        Row(line=2, data={"last_name": "A", "email": "a@example.com"}, campaign=campaign),
        Row(line=3, data={"last_name": "B", "email": "b@example.com"}, campaign=campaign),
    ]
    results = marketing.lead_import_batch(by=marketer, rows=rows)
    assert emitted() == {"lead.created": 2}
    deliveries = list(WebhookDelivery.objects.all())
    assert {d.payload["lead"]["id"] for d in deliveries} == {
        lead.pk for _row, _outcome, lead in results
    }
    assert len({d.event_id for d in deliveries}) == 2
    # Each delivery's first attempt waits in the outbox.
    assert sorted(
        OutboxMessage.objects.filter(task=DELIVER_TASK).values_list("args", flat=True)
    ) == sorted([[d.pk, 1] for d in deliveries])


@pytest.mark.django_db
def test_a_refused_change_emits_nothing(endpoint, make_lead, rep):
    lead = make_lead(Stage.NEW)
    mark = last_id()
    with pytest.raises(LeadflowError):
        sales.lead_accept(lead=lead, by=rep)
    assert events_since(mark) == {}


@pytest.mark.django_db
def test_only_active_subscribed_endpoints_get_an_event(endpoint, make_lead, manager):
    won_only = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", events=["lead.won"], secret="whsec_b", created_by=manager
    )
    off = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", events=ALL_EVENTS, secret="whsec_c", is_active=False
    )
    make_lead.new()
    assert emitted(endpoint=endpoint) == {"lead.created": 1}
    assert emitted(endpoint=won_only) == {} and emitted(endpoint=off) == {}


@pytest.mark.django_db
def test_one_event_has_one_id_for_every_endpoint(endpoint, make_lead, manager):
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/", events=ALL_EVENTS, secret="x")
    make_lead.new()
    first, second = WebhookDelivery.objects.all()
    assert first.event_id == second.event_id and first.endpoint_id != second.endpoint_id


@pytest.mark.django_db
def test_a_raised_flag_is_emitted_once_by_the_flag_outbox(endpoint, clock, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    mark = last_id()
    drain_flag_outbox()
    drain_flag_outbox()  # a second drain finds nothing left to tell
    sweep_flags()
    drain_flag_outbox()
    assert events_since(mark) == {"flag.raised": 1}
    [event] = WebhookDelivery.objects.filter(pk__gt=mark)
    flag = Flag.objects.get(lead=lead)
    assert event.payload["flag"]["id"] == flag.pk
    assert event.payload["flag"]["kind"] == "response_overdue"
    assert event.payload["lead"]["id"] == lead.pk
    assert event.payload["actor"] is None


@pytest.mark.django_db
def test_a_flag_resolved_before_its_notification_is_still_emitted(endpoint, clock, make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    sales.lead_accept(lead=lead, by=rep)
    sweep_flags()
    mark = last_id()
    assert drain_flag_outbox().skipped == 1
    assert events_since(mark) == {"flag.raised": 1}


# --- end to end ----------------------------------------------------------------------------


@pytest.fixture
def live_receiver(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver = start_receiver()
    yield receiver
    stop_receiver(receiver)


@pytest.mark.django_db(transaction=True)
def test_a_receiver_on_loopback_sees_each_event_once_signed_with_a_retry_after_a_500(
    live_receiver, clock, make_lead, marketer, rep, manager
):
    endpoint, secret = webhooks.endpoint_create(
        by=manager, data={"url": live_receiver.url, "events": ALL_EVENTS}
    )
    live_receiver.answers = [500]  # the very first request fails
    live_receiver.secret = secret

    # Every service commits on its own here, and the outbox runs each delivery at once.
    won = make_lead(Stage.WON)
    make_lead(Stage.REJECTED)
    make_lead(Stage.LOST)
    overdue = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    drain_flag_outbox()
    assert Flag.objects.filter(lead=overdue, kind="response_overdue").exists()

    # The failed one waits for its retry; the relay sends it when it is due.
    [waiting] = WebhookDelivery.objects.filter(state=DeliveryState.PENDING)
    assert (waiting.attempts, waiting.last_status) == (1, 500)
    assert waiting.payload["lead"]["id"] == won.pk and waiting.event_type == "lead.created"
    outbox.relay(now=timezone.now() + timedelta(minutes=2))

    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint))
    assert {d.state for d in deliveries} == {DeliveryState.DELIVERED}
    expected = Counter(d.event_type for d in deliveries)
    assert expected == {
        "lead.created": 4,
        "lead.handed_off": 4,
        "lead.accepted": 2,
        "lead.won": 1,
        "lead.rejected": 1,
        "lead.lost": 1,
        "flag.raised": Flag.objects.count(),
    }

    requests = live_receiver.requests
    ids = Counter(r.headers["X-LeadFlow-Event-Id"] for r in requests)
    # Each event once, but for the one that was answered 500: sent again, with the same id.
    assert ids == {str(d.event_id): 2 if d.pk == waiting.pk else 1 for d in deliveries}
    for request in requests:
        assert request.verified  # checked with the README's recipe as it arrived
        assert request.json["id"] == request.headers["X-LeadFlow-Event-Id"]
        assert request.json["type"] == request.headers["X-LeadFlow-Event"]
