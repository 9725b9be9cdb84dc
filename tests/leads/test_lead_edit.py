"""Correcting a lead's contact details (/leads/<id>/edit/): marketing and managers any lead,
a rep their own; the email stays unique among open leads; bad input changes nothing."""

import pytest
from django.urls import reverse

from leads.models import Lead, Stage

GOOD = {
    "first_name": "Ada",
    "last_name": "Byron",
    "email": "ada.byron@example.com",
    "phone": "+31 20 123 4567",
    "company": "Analytical Engines",
    "job_title": "CTO",
    "country": "NL",
    "consent": "on",
}


def edit_url(lead):
    return reverse("leads:edit", args=[lead.pk])


def contact(lead):
    lead.refresh_from_db()
    return {name: getattr(lead, name) for name in [*GOOD, "updated_at"]}


def test_a_marketer_corrects_the_contact_details(marketer_client, make_lead):
    lead = make_lead(Stage.MQL, email="ada@example.com")
    page = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert edit_url(lead) in page
    response = marketer_client.post(edit_url(lead), GOOD, follow=True)
    assert response.redirect_chain[-1][0] == lead.get_absolute_url()
    assert "Contact details saved." in response.content.decode()
    lead.refresh_from_db()
    assert (lead.last_name, lead.email, lead.phone, lead.consent) == (
        "Byron",
        "ada.byron@example.com",
        "+31 20 123 4567",
        True,
    )
    assert lead.stage == Stage.MQL


def test_a_rep_edits_their_own_lead_but_not_another_reps(rep_client, make_lead, other_rep):
    mine = make_lead(Stage.CONTACTED)
    theirs = make_lead(Stage.CONTACTED, owner=other_rep)
    before = contact(theirs)
    assert rep_client.post(edit_url(mine), GOOD).status_code == 302
    assert Lead.objects.get(pk=mine.pk).company == "Analytical Engines"
    assert rep_client.get(edit_url(theirs)).status_code == 404
    assert rep_client.post(edit_url(theirs), {**GOOD, "email": "x@example.com"}).status_code == 404
    assert contact(theirs) == before


def test_a_rep_cannot_edit_a_queued_lead_they_can_only_see(rep_client, make_lead):
    queued = make_lead(Stage.HANDED_OFF, owner=None)
    before = contact(queued)
    assert rep_client.post(edit_url(queued), GOOD).status_code == 403
    assert contact(queued) == before


def test_anonymous_is_sent_to_login(client, make_lead):
    lead = make_lead(Stage.NEW)
    response = client.post(edit_url(lead), GOOD)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"last_name": ""}, "last_name"),
        ({"email": "not an email"}, "email"),
        ({"email": "", "phone": ""}, "email"),
        ({"company": "C" * 201}, "company"),
        ({"email": "TAKEN@example.com"}, "email"),  # another open lead's, any case
    ],
)
def test_bad_input_is_a_field_error_and_changes_nothing(marketer_client, make_lead, change, field):
    make_lead(Stage.NEW, email="taken@example.com")
    lead = make_lead(Stage.MQL, email="ada@example.com")
    before = contact(lead)
    response = marketer_client.post(edit_url(lead), {**GOOD, **change})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert contact(lead) == before


def test_a_closed_lead_may_share_an_email_with_an_open_one(marketer_client, make_lead):
    make_lead(Stage.NEW, email="taken@example.com")
    won = make_lead(Stage.WON, email="old@example.com")
    marketer_client.post(edit_url(won), {**GOOD, "email": "taken@example.com"})
    assert Lead.objects.get(pk=won.pk).email == "taken@example.com"
