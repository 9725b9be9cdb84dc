"""Issue 18, "marketing hears back": a new hand-raiser from the public intake notifies the
campaign's owner (not when it left marketing at once, nor for a second inquiry), and the
campaign's auto-response goes to the person who filled in the form: once per lead,
through the outbox, in the form's language, never to a honeypot catch."""

import json

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from campaigns import services as campaign_services
from campaigns.auto_response import auto_response_send
from campaigns.models import AutoResponse
from leadflow.models import NotificationKind
from leadflow.outbox import OutboxMessage
from leads.models import Lead, Stage

pytestmark = pytest.mark.django_db

FORM = {"first_name": "Seán", "last_name": "O'Brien", "email": "sean@example.com"}
AUTO_TASK = "campaigns.tasks.send_auto_response"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def answering(campaign, marketer):
    """The campaign with an auto-response in English and Dutch."""
    campaign_services.campaign_set_auto_response(
        campaign=campaign,
        by=marketer,
        enabled=True,
        texts={
            "en": ("Thanks, {first_name} & {company}!", "Dear {full_name},\n\nWe'll call you."),
            "nl": ("Bedankt, {first_name}!", "Beste {first_name},\n\nWe bellen u."),
        },
    )
    campaign.refresh_from_db()
    return campaign


def post(client, campaign, data, capture):
    with capture(execute=True):
        return client.post(f"/intake/{campaign.intake_key}/", data)


def mails_to(address):
    return [e for e in mail.outbox if e.to == [address]]


# --- the new hand-raiser notice -------------------------------------------------------


def test_a_new_web_form_lead_notifies_the_campaign_owner_in_the_app_and_by_email(
    anon, campaign, marketer, django_capture_on_commit_callbacks
):
    response = post(
        anon, campaign, {**FORM, "company": "Smith & Sons"}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    lead = Lead.objects.get()
    note = marketer.notifications.get(kind=NotificationKind.NEW_HAND_RAISER)
    assert note.lead == lead and campaign.name in note.text
    [email] = mails_to(marketer.email)
    assert email.subject == "New hand-raiser: Seán O'Brien (Smith & Sons)"
    assert "sean@example.com" in email.body and lead.get_absolute_url() in email.body


def test_a_second_inquiry_that_became_a_touch_notifies_no_one(
    anon, campaign, marketer, django_capture_on_commit_callbacks
):
    post(anon, campaign, FORM, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    post(anon, campaign, {**FORM, "message": "Again"}, django_capture_on_commit_callbacks)
    assert Lead.objects.get().touches.count() == 2
    assert marketer.notifications.filter(kind=NotificationKind.NEW_HAND_RAISER).count() == 1
    assert mail.outbox == []


def test_a_lead_routed_straight_to_sales_on_intake_notifies_no_one(
    anon, campaign, marketer, monkeypatch, django_capture_on_commit_callbacks
):
    """Straight routing (another part of issue 18) runs before the notice; a lead that is no
    longer ``new`` once it ran is sales' to hear about, not marketing's."""
    real = campaign_services.lead_intake_in_transaction

    def routed(**kwargs):
        result = real(**kwargs)
        result.lead.stage = Stage.HANDED_OFF
        return result

    monkeypatch.setattr(campaign_services, "lead_intake_in_transaction", routed)
    post(anon, campaign, FORM, django_capture_on_commit_callbacks)
    assert not marketer.notifications.exists()
    assert mails_to(marketer.email) == []


def test_a_web_form_lead_of_an_ownerless_campaign_notifies_the_managers(
    anon, campaign, manager, marketer, django_capture_on_commit_callbacks
):
    campaign.owner = None
    campaign.save()
    post(anon, campaign, FORM, django_capture_on_commit_callbacks)
    assert manager.notifications.filter(kind=NotificationKind.NEW_HAND_RAISER).count() == 1
    assert len(mails_to(manager.email)) == 1
    assert not marketer.notifications.exists()


# --- the auto-response ----------------------------------------------------------------


def test_the_auto_response_goes_through_the_outbox_unescaped_in_the_forms_language(
    anon, answering, django_capture_on_commit_callbacks
):
    post(
        anon,
        answering,
        {**FORM, "company": "Smith & Sons", "language": "en-GB"},
        django_capture_on_commit_callbacks,
    )
    assert OutboxMessage.objects.filter(task=AUTO_TASK).count() == 1
    [email] = mails_to("sean@example.com")
    assert email.subject == "Thanks, Seán & Smith & Sons!"
    assert email.body == "Dear Seán O'Brien,\n\nWe'll call you."
    assert email.reply_to == [answering.owner.email]
    html, _mimetype = email.alternatives[0]
    assert "We&#x27;ll call you." in html
    assert Lead.objects.get().auto_response_sent_at is not None


def test_a_dutch_form_gets_the_dutch_text_and_an_unknown_language_the_sites(
    anon, answering, django_capture_on_commit_callbacks
):
    post(anon, answering, {**FORM, "language": "nl"}, django_capture_on_commit_callbacks)
    other = {**FORM, "email": "x@example.com", "language": "fr"}
    post(anon, answering, other, django_capture_on_commit_callbacks)
    assert [e.subject for e in mails_to("sean@example.com")] == ["Bedankt, Seán!"]
    assert [e.subject for e in mails_to("x@example.com")] == ["Thanks, Seán & !"]


def test_a_language_without_text_falls_back_to_the_sites(
    anon, answering, django_capture_on_commit_callbacks
):
    AutoResponse.objects.filter(campaign=answering, language="nl").update(subject="", body="")
    post(anon, answering, {**FORM, "language": "nl"}, django_capture_on_commit_callbacks)
    [email] = mails_to("sean@example.com")
    assert email.subject.startswith("Thanks, Seán")


def test_the_honeypot_never_gets_an_auto_response(
    anon, answering, django_capture_on_commit_callbacks
):
    response = post(
        anon,
        answering,
        {**FORM, "website": "http://spam.example"},
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200  # looks like success to the bot
    assert not Lead.objects.exists()
    assert not OutboxMessage.objects.filter(task=AUTO_TASK).exists()
    assert mail.outbox == []
    # A JSON post with the honeypot filled in is dropped the same way.
    with django_capture_on_commit_callbacks(execute=True):
        anon.post(
            f"/intake/{answering.intake_key}/",
            json.dumps({**FORM, "website": "x"}),
            content_type="application/json",
        )
    assert mail.outbox == [] and not Lead.objects.exists()


def test_the_auto_response_is_sent_once_per_lead(
    anon, answering, django_capture_on_commit_callbacks
):
    post(anon, answering, FORM, django_capture_on_commit_callbacks)
    post(anon, answering, {**FORM, "message": "again"}, django_capture_on_commit_callbacks)
    assert Lead.objects.get().touches.count() == 2
    assert len(mails_to("sean@example.com")) == 1  # the second inquiry became a touch
    assert OutboxMessage.objects.filter(task=AUTO_TASK).count() == 1
    # The task delivered a second time (the outbox delivers at least once) sends nothing.
    lead = Lead.objects.get()
    assert auto_response_send(lead_id=lead.pk, language="en") is False
    assert len(mails_to("sean@example.com")) == 1


def test_no_auto_response_when_switched_off_or_without_an_email(
    anon, answering, marketer, django_capture_on_commit_callbacks
):
    phone_only = {"last_name": "Phone", "phone": "+31 6 1234 5678"}
    post(anon, answering, phone_only, django_capture_on_commit_callbacks)
    campaign_services.campaign_set_auto_response(
        campaign=answering, by=marketer, enabled=False, texts={}
    )
    post(anon, answering, FORM, django_capture_on_commit_callbacks)
    assert Lead.objects.count() == 2
    assert not OutboxMessage.objects.filter(task=AUTO_TASK).exists()
    assert mails_to("sean@example.com") == []


# --- editing it on the campaign page --------------------------------------------------


def auto_response_url(campaign):
    return reverse("campaigns:auto_response", args=[campaign.pk])


def test_a_marketer_edits_the_auto_response_on_the_campaign_page(marketer_client, campaign):
    page = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert f'action="{auto_response_url(campaign)}"' in page
    assert "{first_name}" in page
    response = marketer_client.post(
        auto_response_url(campaign),
        {
            "enabled": "on",
            "subject_en": "Thanks {first_name}",
            "body_en": "We got it.",
            "subject_nl": "",
            "body_nl": "",
        },
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.auto_response_enabled
    assert campaign.auto_responses.get(language="en").subject == "Thanks {first_name}"
    page = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert 'value="Thanks {first_name}"' in page


def test_an_unknown_placeholder_or_no_text_is_a_form_error_and_saves_nothing(
    manager_client, campaign
):
    response = manager_client.post(
        auto_response_url(campaign),
        {"enabled": "on", "subject_en": "Hi {lead.__class__}", "body_en": "x"},
    )
    assert response.status_code == 400
    assert "Unknown placeholder" in response.content.decode()
    response = manager_client.post(auto_response_url(campaign), {"enabled": "on"})
    assert response.status_code == 400
    assert "Write a subject and a text" in response.content.decode()
    campaign.refresh_from_db()
    assert not campaign.auto_response_enabled and not campaign.auto_responses.exists()


def test_a_rep_cannot_edit_the_auto_response(rep_client, campaign):
    response = rep_client.post(
        auto_response_url(campaign), {"enabled": "on", "subject_en": "x", "body_en": "y"}
    )
    assert response.status_code == 403
    assert not campaign.auto_responses.exists()
