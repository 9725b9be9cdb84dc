"""Issue 18, "marketing hears back": a rejection notifies the campaign's owner (the managers
when it has none) with the reason and a link to dispute; a ruling notifies the people it
concerns with the manager's note, and opens a read-only page of the ruling for them and
the managers only, even once the lead has moved on."""

import pytest
from django.core import mail
from django.urls import reverse

from leadflow.models import Notification, NotificationKind
from leadflow.names import person
from leads import services as marketing
from leads.models import Stage
from sales import services as sales
from tests import factories

from ..conftest import _client_for

pytestmark = pytest.mark.django_db


def test_a_rejection_tells_the_campaign_owner_the_reason_with_a_link_to_dispute(
    make_lead, marketer, rep, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.HANDED_OFF, company="Smith & Sons")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sales.lead_reject(lead=lead, by=rep, reason="no_budget", note="They said 2027")
    note = marketer.notifications.get(kind=NotificationKind.LEAD_REJECTED)
    assert (note.lead, note.actor) == (lead, rep)
    assert note.text == "No budget: “They said 2027”"
    assert note.url == f"{lead.get_absolute_url()}#dispute-comment"
    [email] = mail.outbox
    assert email.to == [marketer.email]
    assert email.subject == f"Sales rejected a lead: {lead}"
    assert "Smith & Sons" in email.subject
    assert f"{person(rep)} rejected a lead of your campaign: {lead}." in email.body
    assert "No budget: “They said 2027”" in email.body
    assert f"/leads/{lead.pk}/#dispute-comment" in email.body
    # The link lands on the lead's dispute form.
    page = _client_for(marketer).get(lead.get_absolute_url()).content.decode()
    assert 'id="dispute-comment"' in page


def test_a_rejection_of_a_lead_without_a_campaign_owner_tells_the_managers(
    make_lead, campaign, rep, manager, marketer, django_capture_on_commit_callbacks
):
    other_manager = factories.manager(username="boss2")
    lead = make_lead(Stage.HANDED_OFF)
    campaign.owner = None
    campaign.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sales.lead_reject(lead=lead, by=rep, reason="spam")
    told = {n.user for n in Notification.objects.filter(kind=NotificationKind.LEAD_REJECTED)}
    assert told == {manager, other_manager}
    assert sorted(e.to[0] for e in mail.outbox) == sorted([manager.email, other_manager.email])
    assert not marketer.notifications.filter(kind=NotificationKind.LEAD_REJECTED).exists()


# --- the ruling ---------------------------------------------------------------------------


@pytest.fixture
def overturned(make_lead, marketer, rep, other_rep, manager, django_capture_on_commit_callbacks):
    """A rejection by rep1 that marketing disputed and a manager overturned to rep2, with a
    note: rep1 can no longer see the lead."""
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="They asked twice.")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sales.dispute_rule(
            dispute=dispute,
            by=manager,
            ruling="overturned",
            to_user=other_rep,
            note="They have budget & a deadline.",
        )
    dispute.refresh_from_db()
    return dispute


def test_the_ruling_notice_carries_the_managers_note_and_opens_the_ruling(
    overturned, rep, marketer, manager
):
    url = reverse("sales:dispute_detail", args=[overturned.pk])
    for user in (rep, marketer):
        note = user.notifications.get(kind=NotificationKind.DISPUTE_RULED)
        assert note.text == "Rejection overturned: “They have budget & a deadline.”"
        assert note.url == url
    ruled = [e for e in mail.outbox if e.subject.startswith("Dispute ruled")]
    assert sorted(e.to[0] for e in ruled) == sorted([rep.email, marketer.email])
    email = next(e for e in ruled if e.to == [rep.email])
    assert "They have budget & a deadline." in email.body and url in email.body
    assert f"{person(manager)} ruled on the disputed rejection of" in email.body


def test_the_rejecting_rep_reads_the_ruling_after_the_lead_moved_on(overturned, rep):
    client = _client_for(rep)
    assert client.get(overturned.lead.get_absolute_url()).status_code == 404
    note = rep.notifications.get(kind=NotificationKind.DISPUTE_RULED)
    response = client.get(reverse("notification_open", args=[note.pk]))
    assert response["Location"] == overturned.get_absolute_url()
    body = client.get(response["Location"]).content.decode()
    assert "They have budget &amp; a deadline." in body
    assert "Rejection overturned" in body and "They asked twice." in body
    assert "you can no longer open it" in body
    assert f'href="{overturned.lead.get_absolute_url()}"' not in body
    # The list links it too, though the lead itself is out of sight.
    notifications = client.get(reverse("notifications")).content.decode()
    assert reverse("notification_open", args=[note.pk]) in notifications


def test_only_the_people_the_ruling_concerns_and_managers_may_open_it(
    overturned, rep, other_rep, marketer, manager
):
    url = overturned.get_absolute_url()
    assert _client_for(rep).get(url).status_code == 200  # rejected it
    assert _client_for(marketer).get(url).status_code == 200  # raised the dispute
    assert _client_for(manager).get(url).status_code == 200
    body = _client_for(manager).get(url).content.decode()
    assert f'href="{overturned.lead.get_absolute_url()}"' in body
    # rep2 now owns the lead, but the ruling is not about them; nor about another marketer.
    assert _client_for(other_rep).get(url).status_code == 404
    assert _client_for(factories.marketer(username="m2")).get(url).status_code == 404
    assert _client_for(factories.rep(username="rep9")).get(url).status_code == 404


def test_the_ruling_page_needs_a_login(client, overturned):
    response = client.get(overturned.get_absolute_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
