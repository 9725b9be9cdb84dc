"""Outgoing webhooks and chat channels (issue 18, items 6 and 8): the signature a
receiver verifies, delivery with retries and backoff through the outbox, the SSRF
checks at save and send time, the managers' pages and API, and Slack/Teams posts of
notifications."""

import socket
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow import outbox
from leadflow.errors import ActionForbidden, InvalidInput
from leadflow.models import (
    DeliveryChannel,
    DeliveryState,
    NotificationKind,
    OutboxMessage,
    Profile,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from leadflow.notifications.notify import notify
from leadflow.webhooks import delivery, events, services, signing, ssrf
from tests.webhook_receiver import start_receiver, stop_receiver, verify_as_the_readme_says

pytestmark = pytest.mark.django_db

ALL_EVENTS = list(WebhookEvent.values)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    r = start_receiver()
    yield r
    stop_receiver(r)


@pytest.fixture
def endpoint(receiver, manager):
    endpoint, _secret = services.endpoint_create(
        by=manager, data={"url": receiver.url, "events": ALL_EVENTS, "description": "CRM sync"}
    )
    return endpoint


def run_pending(delivery_id, number):
    return delivery.attempt(delivery_id, number)


# --- the signature ---------------------------------------------------------------------


def test_the_signature_verifies_with_the_documented_recipe(endpoint, receiver, manager):
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    assert run_pending(test.pk, 1).ok

    [request] = receiver.requests
    headers = request.headers
    assert headers["X-LeadFlow-Event"] == "webhook.test"
    assert headers["X-LeadFlow-Event-Id"] == str(test.event_id)
    assert headers["X-LeadFlow-Signature"].startswith("sha256=")
    assert verify_as_the_readme_says(
        endpoint.secret,
        request.body,
        headers["X-LeadFlow-Timestamp"],
        headers["X-LeadFlow-Signature"],
    )
    # Another secret, another body or another timestamp does not verify.
    ts, sig = headers["X-LeadFlow-Timestamp"], headers["X-LeadFlow-Signature"]
    assert not verify_as_the_readme_says("whsec_other", request.body, ts, sig)
    assert not verify_as_the_readme_says(endpoint.secret, request.body + b" ", ts, sig)
    assert not verify_as_the_readme_says(endpoint.secret, request.body, str(int(ts) - 1), sig)
    # The body is the documented schema.
    body = request.json
    assert set(body) == {"id", "type", "version", "occurred_at", "lead", "actor", "flag"}
    assert body["id"] == str(test.event_id)
    assert body["actor"] == {"id": manager.pk, "username": manager.username}


def test_a_replayed_request_is_refused_by_the_timestamp():
    body = b'{"id":"x"}'
    sent = 1_800_000_000
    header = signing.signature("whsec_s", sent, body)
    assert signing.verify("whsec_s", body=body, timestamp=str(sent), header=header, now=sent + 10)
    assert not signing.verify(
        "whsec_s", body=body, timestamp=str(sent), header=header, now=sent + 301
    )


def test_rotating_the_secret_signs_the_next_attempt_with_the_new_one(endpoint, receiver, manager):
    old = endpoint.secret
    receiver.answers = [500]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    run_pending(test.pk, 1)
    _endpoint, new = services.endpoint_rotate_secret(endpoint=endpoint, by=manager)
    assert new != old and new.startswith("whsec_")
    run_pending(test.pk, 2)
    first, second = receiver.requests
    assert verify_as_the_readme_says(
        old,
        first.body,
        first.headers["X-LeadFlow-Timestamp"],
        first.headers["X-LeadFlow-Signature"],
    )
    assert verify_as_the_readme_says(
        new,
        second.body,
        second.headers["X-LeadFlow-Timestamp"],
        second.headers["X-LeadFlow-Signature"],
    )
    assert first.body == second.body  # the same event, byte for byte


# --- delivery and retries ----------------------------------------------------------------


def test_a_500_from_the_receiver_is_retried_after_a_backoff_and_then_delivered(
    endpoint, receiver, manager
):
    receiver.answers = [500]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    before = timezone.now()
    outcome = run_pending(test.pk, 1)
    assert not outcome.ok and outcome.retry

    test.refresh_from_db()
    assert test.state == DeliveryState.PENDING
    assert (test.attempts, test.last_status, test.last_error) == (1, 500, "HTTP 500")
    assert before + timedelta(seconds=59) < test.next_attempt_at < before + timedelta(seconds=70)
    # The next attempt waits in the outbox, due at next_attempt_at: nothing holds it meanwhile.
    [retry] = OutboxMessage.objects.filter(task=events.DELIVER_TASK, args=[test.pk, 2])
    assert retry.due_at == test.next_attempt_at and retry.published_at is None

    # The relay publishes it when it is due (eager here: it runs at once).
    assert outbox.relay(now=test.next_attempt_at + timedelta(seconds=1)) >= 1
    test.refresh_from_db()
    assert test.state == DeliveryState.DELIVERED
    assert (test.attempts, test.last_status, test.last_error) == (2, 200, "")
    assert test.next_attempt_at is None
    first, second = receiver.requests
    assert first.headers["X-LeadFlow-Event-Id"] == second.headers["X-LeadFlow-Event-Id"]


def test_backoff_doubles_honours_retry_after_and_is_capped():
    assert [delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert delivery.backoff(1, retry_after=900) == timedelta(seconds=900)
    assert delivery.backoff(30) == delivery.MAX_DELAY


def test_429_with_retry_after_waits_that_long(endpoint, receiver, manager):
    receiver.answers = [(429, {"Retry-After": "600"})]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    before = timezone.now()
    run_pending(test.pk, 1)
    test.refresh_from_db()
    assert test.last_status == 429
    assert test.next_attempt_at >= before + timedelta(seconds=600)


def test_retries_stop_after_the_maximum(endpoint, receiver, manager, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [503, 503, 503, 200]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    for number in (1, 2, 3):
        run_pending(test.pk, number)
    test.refresh_from_db()
    assert (test.state, test.attempts, test.last_status) == (DeliveryState.FAILED, 3, 503)
    assert test.next_attempt_at is None
    assert not OutboxMessage.objects.filter(args=[test.pk, 4]).exists()
    assert len(receiver.requests) == 3


def test_a_4xx_is_not_retried(endpoint, receiver, manager):
    receiver.answers = [410]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    run_pending(test.pk, 1)
    test.refresh_from_db()
    assert (test.state, test.last_status) == (DeliveryState.FAILED, 410)


def test_a_redirect_is_never_followed(endpoint, receiver, manager):
    receiver.answers = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    run_pending(test.pk, 1)
    test.refresh_from_db()
    assert (test.state, test.last_status) == (DeliveryState.FAILED, 302)
    assert "redirects are not followed" in test.last_error
    assert len(receiver.requests) == 1


def test_a_network_error_is_retried(endpoint, manager, settings):
    # A port nobody listens on: the connection is refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{port}/")
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    outcome = run_pending(test.pk, 1)
    assert outcome.retry
    test.refresh_from_db()
    assert test.state == DeliveryState.PENDING and test.last_status is None
    assert "Connection" in test.last_error


def test_with_sending_switched_off_nothing_leaves(endpoint, receiver, manager, settings):
    settings.WEBHOOK_SENDING = False
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    run_pending(test.pk, 1)
    test.refresh_from_db()
    assert test.state == DeliveryState.FAILED and "WEBHOOK_SENDING" in test.last_error
    assert receiver.requests == []


def test_a_stale_or_duplicate_attempt_sends_nothing(endpoint, receiver, manager):
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    assert run_pending(test.pk, 1).ok
    assert run_pending(test.pk, 1) is None  # the outbox ran the message again
    assert run_pending(test.pk, 2) is None  # no second attempt of a delivered event
    assert len(receiver.requests) == 1


def test_a_switched_off_endpoint_gets_nothing_more(endpoint, receiver, manager):
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    services.endpoint_update(endpoint=endpoint, by=manager, data={"is_active": False})
    run_pending(test.pk, 1)
    test.refresh_from_db()
    assert test.state == DeliveryState.FAILED
    assert receiver.requests == []


# --- SSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(url, manager):
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check(url)
    with pytest.raises(InvalidInput) as refused:
        services.endpoint_create(by=manager, data={"url": url, "events": ALL_EVENTS})
    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def resolves_to(monkeypatch, mapping):
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in mapping:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (mapping[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_host_name_resolving_to_loopback_is_refused(monkeypatch, manager):
    resolves_to(monkeypatch, {"hooks.example.com": "127.0.0.1"})
    with pytest.raises(InvalidInput, match="127.0.0.1"):
        services.endpoint_create(
            by=manager, data={"url": "https://hooks.example.com/x", "events": ALL_EVENTS}
        )


def test_a_host_that_resolves_to_loopback_later_is_refused_at_send_time(
    monkeypatch, manager, receiver
):
    resolves_to(monkeypatch, {"hooks.example.com": "93.184.216.34"})
    endpoint, _ = services.endpoint_create(
        by=manager, data={"url": "http://hooks.example.com/x", "events": ALL_EVENTS}
    )
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)
    resolves_to(monkeypatch, {"hooks.example.com": "127.0.0.1"})  # DNS rebinding
    outcome = run_pending(test.pk, 1)
    assert not outcome.retry
    test.refresh_from_db()
    assert test.state == DeliveryState.FAILED
    assert "127.0.0.1" in test.last_error
    assert receiver.requests == []


def test_non_http_schemes_and_credentials_are_refused(manager):
    for url in ("ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/"):
        with pytest.raises(ssrf.UnsafeTarget, match="http"):
            ssrf.check(url)
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check("https://user:pw@example.com/")


def test_the_allow_list_lets_loopback_through(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check("http://127.0.0.1:8080/hook")
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    assert ssrf.check("http://127.0.0.1:8080/hook").address == "127.0.0.1"
    assert ssrf.check("http://LOCALHOST:8080/hook").address in {"127.0.0.1", "::1"}
    # Only the hosts named: another loopback name is still refused.
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check("http://127.0.0.2/hook")


# --- who may ---------------------------------------------------------------------------


def test_only_managers_manage_endpoints(marketer, rep, receiver):
    for user in (marketer, rep):
        with pytest.raises(ActionForbidden):
            services.endpoint_create(by=user, data={"url": receiver.url, "events": ALL_EVENTS})


def test_pages_are_for_managers(client, marketer_client, rep_client, manager_client, endpoint):
    urls = [reverse("webhooks:list"), reverse("webhooks:create"), endpoint.get_absolute_url()]
    for url in urls:
        assert marketer_client.get(url).status_code == 403
        assert rep_client.get(url).status_code == 403
        assert manager_client.get(url).status_code == 200
        assert client.get(url).status_code == 302  # the login page


def test_a_manager_creates_an_endpoint_and_sees_the_secret_once(manager_client, receiver):
    response = manager_client.post(
        reverse("webhooks:create"),
        {
            "url": receiver.url,
            "description": "CRM",
            "events": ["lead.won", "lead.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["lead.created", "lead.won"] and endpoint.is_active
    assert endpoint.secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    page = manager_client.get(endpoint.get_absolute_url()).content.decode()
    assert endpoint.secret not in page and endpoint.secret_hint in page


def test_the_form_shows_an_ssrf_refusal(manager_client):
    response = manager_client.post(
        reverse("webhooks:create"),
        {"url": "http://169.254.169.254/latest/", "events": ["lead.created"], "is_active": "on"},
    )
    assert response.status_code == 200
    assert "169.254.169.254" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_last_status_and_error(manager_client, endpoint, receiver, manager):
    receiver.answers = [500]
    response = manager_client.post(reverse("webhooks:test", args=[endpoint.pk]))
    assert response.status_code == 302
    test = WebhookDelivery.objects.get(endpoint=endpoint)
    assert test.event_type == "webhook.test"
    run_pending(test.pk, 1)
    page = manager_client.get(endpoint.get_absolute_url()).content.decode()
    assert "webhook.test" in page and "HTTP 500" in page and str(test.event_id) in page


# --- the API ---------------------------------------------------------------------------


def api(client, method, url, data=None):
    return getattr(client, method)(url, data=data, content_type="application/json")


def test_the_api_manages_endpoints_for_managers_only(
    manager_client, rep_client, marketer_client, receiver
):
    base = "/api/v1/webhooks/"
    for other in (rep_client, marketer_client):
        assert other.get(base).status_code == 403
        assert (
            api(other, "post", base, {"url": receiver.url, "events": ["lead.won"]}).status_code
            == 403
        )

    created = api(manager_client, "post", base, {"url": receiver.url, "events": ["lead.won"]})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["lead.won"]
    pk = body["id"]
    assert "secret" not in manager_client.get(f"{base}{pk}/").json()
    assert rep_client.get(f"{base}{pk}/").status_code == 403

    edited = api(manager_client, "patch", f"{base}{pk}/", {"events": ["lead.lost", "flag.raised"]})
    assert edited.status_code == 200 and edited.json()["events"] == ["lead.lost", "flag.raised"]
    refused = api(manager_client, "patch", f"{base}{pk}/", {"url": "http://10.0.0.1/"})
    assert refused.status_code == 400 and "url" in refused.json()["errors"]

    rotated = api(manager_client, "post", f"{base}{pk}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    tested = api(manager_client, "post", f"{base}{pk}/test/")
    assert tested.status_code == 202 and tested.json()["event_type"] == "webhook.test"
    log = manager_client.get(f"{base}{pk}/deliveries/").json()
    assert [d["event_type"] for d in log["results"]] == ["webhook.test"]
    assert rep_client.get(f"{base}{pk}/deliveries/").status_code == 403

    assert manager_client.delete(f"{base}{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_the_api_refuses_unknown_events(manager_client, receiver):
    response = api(
        manager_client,
        "post",
        "/api/v1/webhooks/",
        {"url": receiver.url, "events": ["lead.eaten"]},
    )
    assert response.status_code == 400 and "events" in response.json()["errors"]


# --- Slack and Teams -------------------------------------------------------------------


def test_a_notification_is_posted_to_the_users_slack_and_teams(receiver, rep, manager, settings):
    services.chat_channels_set(
        user=rep,
        by=rep,
        slack_webhook_url=receiver.url + "/slack",
        teams_webhook_url=receiver.url + "/teams",
    )
    notification = notify(
        user=rep, kind=NotificationKind.IMPORT_DONE, text="42 leads imported", url="/leads/"
    )
    slack, teams = sorted(
        WebhookDelivery.objects.filter(endpoint=None),
        key=lambda d: d.channel != DeliveryChannel.SLACK,
    )
    assert (slack.channel, teams.channel) == (DeliveryChannel.SLACK, DeliveryChannel.TEAMS)
    for chat in (slack, teams):
        assert run_pending(chat.pk, 1).ok
    by_path = {r.path: r.json for r in receiver.requests}
    link = f"{settings.SITE_URL}/leads/"
    assert by_path["/hook/slack"] == {
        "text": f"{notification.get_kind_display()}. 42 leads imported <{link}|Open in LeadFlow>"
    }
    card = by_path["/hook/teams"]["attachments"][0]["content"]
    assert "42 leads imported" in card["body"][0]["text"]
    assert card["actions"][0]["url"] == link
    # No signature on chat posts: Slack and Teams authenticate by the secret URL itself.
    assert all("X-LeadFlow-Signature" not in r.headers for r in receiver.requests)


def test_slack_markup_in_a_text_is_escaped():
    assert delivery.encode({"a": 1}) == b'{"a":1}'
    from leadflow.webhooks.chat import slack_payload

    assert slack_payload("O'Brien <Smith & Sons>", "", "Open")["text"] == (
        "O'Brien &lt;Smith &amp; Sons&gt;"
    )


def test_no_channel_no_chat_post(rep):
    notify(user=rep, kind=NotificationKind.IMPORT_DONE, text="done")
    assert not WebhookDelivery.objects.exists()


def test_chat_urls_are_checked_like_endpoints(rep, manager, marketer, monkeypatch):
    with pytest.raises(InvalidInput) as refused:
        services.chat_channels_set(user=rep, by=rep, slack_webhook_url="http://127.0.0.1/x")
    assert refused.value.field == "slack_webhook_url"
    resolves_to(monkeypatch, {"hooks.slack.com": "52.1.2.3"})
    with pytest.raises(InvalidInput, match="https"):
        services.chat_channels_set(user=rep, by=rep, slack_webhook_url="http://hooks.slack.com/x")
    with pytest.raises(ActionForbidden):
        services.chat_channels_set(user=rep, by=marketer, slack_webhook_url="")
    services.chat_channels_set(user=rep, by=manager, slack_webhook_url="https://hooks.slack.com/x")
    assert Profile.objects.get(user=rep).slack_webhook_url == "https://hooks.slack.com/x"


def test_a_user_sets_their_channels_on_the_profile_and_a_manager_for_them(
    rep_client, manager_client, rep, monkeypatch
):
    resolves_to(
        monkeypatch, {"hooks.slack.com": "52.1.2.3", "example.webhook.office.com": "52.1.2.4"}
    )
    assert "slack_webhook_url" in rep_client.get(reverse("profile")).content.decode()
    response = rep_client.post(
        reverse("profile_channels"),
        {"slack_webhook_url": "https://hooks.slack.com/services/T/B/X"},
    )
    assert response.status_code == 302
    assert (
        Profile.objects.get(user=rep).slack_webhook_url == "https://hooks.slack.com/services/T/B/X"
    )
    url = reverse("webhooks:user_channels", args=[rep.pk])
    assert rep_client.get(url).status_code == 403
    response = manager_client.post(
        url, {"teams_webhook_url": "https://example.webhook.office.com/x"}
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=rep)
    assert (profile.slack_webhook_url, profile.teams_webhook_url) == (
        "",
        "https://example.webhook.office.com/x",
    )


def test_finished_deliveries_are_pruned_after_a_month_pending_ones_stay(endpoint, manager):
    old = timezone.now() - timedelta(days=31)
    done = services.endpoint_send_test(endpoint=endpoint, by=manager)
    waiting = services.endpoint_send_test(endpoint=endpoint, by=manager)
    WebhookDelivery.objects.filter(pk=done.pk).update(
        state=DeliveryState.DELIVERED, created_at=old
    )
    WebhookDelivery.objects.filter(pk=waiting.pk).update(created_at=old)
    assert delivery.prune() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [waiting.pk]


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_attempt_at_once_send_it_once(postgres_only, receiver, manager):
    """The outbox ran one attempt's message twice at the same moment (a redelivery): the
    conditional claim lets one of them send."""
    import threading

    from django.db import connection

    endpoint, _secret = services.endpoint_create(
        by=manager, data={"url": receiver.url, "events": ALL_EVENTS}
    )
    test = services.endpoint_send_test(endpoint=endpoint, by=manager)  # eager: attempt 1 ran
    receiver.requests.clear()
    WebhookDelivery.objects.filter(pk=test.pk).update(
        state=DeliveryState.PENDING, attempts=1, delivered_at=None
    )
    start = threading.Barrier(2)
    outcomes = []

    def run():
        try:
            start.wait()
            outcomes.append(delivery.attempt(test.pk, 2))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o is None for o in outcomes) == [False, True]
    assert len(receiver.requests) == 1
    test.refresh_from_db()
    assert (test.state, test.attempts) == (DeliveryState.DELIVERED, 2)
