"""The bell, the notification list, and the emails for a lead handed or reassigned to a rep."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadflow.models import Notification
from leadflow.names import person
from leadflow.notifications.notify import notify
from leads.models import Stage
from sales import services as sales

LIST = reverse("notifications")


def bell(body):
    found = re.search(r'<a class="nav-link[^"]*" href="/notifications/".*?</a>', body, re.S)
    return found.group(0)


def test_anonymous_is_sent_to_login(client, db):
    assert client.get(LIST)["Location"].startswith(reverse("login"))


def test_bell_counts_unread_notifications(rep_client, rep, other_rep, make_lead):
    body = rep_client.get(reverse("sales:inbox")).content.decode()
    assert "none unread" in bell(body) and "badge" not in bell(body)
    make_lead(Stage.HANDED_OFF)  # notifies rep1
    make_lead(Stage.HANDED_OFF)
    make_lead(Stage.HANDED_OFF, owner=other_rep)
    body = rep_client.get(reverse("sales:inbox")).content.decode()
    assert ">2</span>" in bell(body) and "2 unread" in bell(body)


def test_bell_costs_one_query_per_page(rep_client, rep, make_lead):
    make_lead(Stage.HANDED_OFF)
    with CaptureQueriesContext(connection) as queries:
        rep_client.get(reverse("sales:inbox"))
    assert sum("leadflow_notification" in q["sql"] for q in queries.captured_queries) == 1


def test_bell_caps_its_count(rep_client, rep):
    Notification.objects.bulk_create(
        Notification(user=rep, kind="flag_raised", text=f"n{i}") for i in range(120)
    )
    assert ">99+</span>" in bell(rep_client.get(reverse("sales:inbox")).content.decode())


def test_opening_the_list_shows_new_ones_and_marks_them_read(
    rep_client, rep, other_rep, make_lead
):
    lead = make_lead(Stage.HANDED_OFF)
    notify(user=other_rep, kind="reassigned", text="Not for rep1")
    response = rep_client.get(LIST)
    body = response.content.decode()
    assert (
        "Lead handed to you" in body
        and str(lead) in body
        and f"by {person(lead.campaign.owner)}" in body
    )
    assert "Not for rep1" not in body
    assert ">new</span>" in body
    assert not rep.notifications.filter(read_at__isnull=True).exists()
    assert other_rep.notifications.filter(read_at__isnull=True).count() == 1
    body = rep_client.get(LIST).content.decode()
    assert ">new</span>" not in body and "none unread" in bell(body)


def test_list_marks_only_the_page_shown_and_offers_the_rest(rep_client, rep):
    Notification.objects.bulk_create(
        Notification(user=rep, kind="flag_raised", text=f"n{i}") for i in range(35)
    )
    body = rep_client.get(LIST).content.decode()
    assert rep.notifications.filter(read_at__isnull=True).count() == 5
    assert "Mark all 5 others as read" in body
    rep_client.post(reverse("notifications_read"))
    assert not rep.notifications.filter(read_at__isnull=True).exists()


def test_opening_one_notification_marks_it_read_and_goes_to_the_lead(rep_client, rep, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    notification = rep.notifications.get()
    response = rep_client.get(reverse("notification_open", args=[notification.pk]))
    assert response["Location"] == lead.get_absolute_url()
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_users_notification_is_a_404(rep_client, other_rep, db):
    notification = notify(user=other_rep, kind="reassigned", url="/leads/")
    assert rep_client.get(reverse("notification_open", args=[notification.pk])).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_notification_never_redirects_off_site(rep_client, rep):
    notification = notify(user=rep, kind="import_done", url="https://evil.example/")
    response = rep_client.get(reverse("notification_open", args=[notification.pk]))
    assert response["Location"] == LIST


def test_a_lead_handed_to_a_rep_is_emailed_to_them(
    marketer_client, make_lead, rep, mailoutbox, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.MQL, first_name="Ada", last_name="Byron", phone="+31 6 1234")
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("leads:hand_off", args=[lead.pk]), {"mode": "rep", "to_user": rep.pk}
        )
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [rep.email]
    assert mail.subject == f"New lead for you: {lead}"
    assert "+31 6 1234" in mail.body and f"/leads/{lead.pk}/" in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html" and f"/leads/{lead.pk}/" in html
    assert rep.notifications.filter(kind="handed_to_you", lead=lead).exists()


def test_a_reassigned_lead_is_emailed_to_the_new_owner_only(
    manager_client,
    manager,
    make_lead,
    rep,
    other_rep,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    lead = make_lead(Stage.CONTACTED)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("sales:reassign", args=[lead.pk]), {"to_user": other_rep.pk})
    assert [m.to for m in mailoutbox] == [[other_rep.email]]
    mail = mailoutbox[0]
    assert mail.subject == f"Lead reassigned to you: {lead}"
    assert f"{person(manager)} reassigned a lead to you" in mail.body
    assert "Contacted" in mail.body
    assert f"/leads/{lead.pk}/" in mail.alternatives[0][0]
    # The previous owner hears in the app, not by email.
    assert rep.notifications.filter(kind="reassigned", text__contains=person(other_rep)).exists()


@pytest.mark.parametrize("kind", [k for k, _ in Notification._meta.get_field("kind").choices])
def test_every_kind_of_notification_renders_in_the_list(rep_client, rep, make_lead, kind):
    lead = make_lead(Stage.ACCEPTED)
    notification = notify(user=rep, kind=kind, lead=lead, text="Some detail")
    body = rep_client.get(LIST).content.decode()
    assert notification.get_kind_display() in body and "Some detail" in body
    assert reverse("notification_open", args=[notification.pk]) in body


def test_a_lead_reassigned_away_is_not_linked_any_more(
    rep_client, manager, rep, other_rep, make_lead
):
    lead = make_lead(Stage.ACCEPTED)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    notification = rep.notifications.get(kind="reassigned")
    body = rep_client.get(LIST).content.decode()
    assert f"Reassigned to {person(other_rep)}." in body
    assert reverse("notification_open", args=[notification.pk]) not in body
    response = rep_client.get(reverse("notification_open", args=[notification.pk]), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert b"That lead is no longer yours to open." in response.content
