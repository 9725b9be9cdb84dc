"""Two reps clicking at the same moment, through the views: exactly one wins and the other
sees why on the page they return to (PostgreSQL row locks make the race real)."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from leadflow.names import person
from leads import lifecycle
from leads.models import Lead, Stage, StageChange
from sales import services as sales
from tests import races
from tests.races import hold_until_blocked

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def race(*posts):
    """Run the (client, url) posts at once; each follows its redirect to the inbox."""

    def post(client, url):
        response = client.post(url, {"next": reverse("sales:inbox")}, follow=True)
        return response.status_code, response.content.decode()

    outcomes = races.race(*(lambda c=client, u=url: post(c, u) for client, url in posts))
    assert not races.failures(outcomes), outcomes
    return outcomes


def alerts(body):
    return [part.split("<button")[0].strip() for part in body.split('role="alert">')[1:]]


def test_two_reps_claiming_one_lead_the_loser_sees_who_won(make_lead, rep, other_rep, monkeypatch):
    hold_until_blocked(monkeypatch, sales, "_claim_into")
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    url = reverse("sales:claim", args=[lead.pk])
    pages = race((logged_in(rep), url), (logged_in(other_rep), url))
    assert [status for status, _ in pages] == [200, 200]
    owner = Lead.objects.get(pk=lead.pk).owner
    assert owner in (rep, other_rep)
    winner, loser = (0, 1) if owner == rep else (1, 0)
    assert any(a.startswith("Claimed") for a in alerts(pages[winner][1]))
    assert alerts(pages[loser][1]) == [f"{person(owner)} claimed this lead first."]


def test_two_reps_accepting_one_queued_lead_the_loser_is_told(
    make_lead, rep, other_rep, monkeypatch
):
    hold_until_blocked(monkeypatch, lifecycle, "move")
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    url = reverse("sales:accept", args=[lead.pk])
    pages = race((logged_in(rep), url), (logged_in(other_rep), url))
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage == Stage.ACCEPTED
    assert StageChange.objects.filter(lead=lead, to_stage="accepted").count() == 1
    winner, loser = (0, 1) if lead.owner == rep else (1, 0)
    assert alerts(pages[winner][1]) == [f"Accepted {lead}."]
    told = alerts(pages[loser][1])
    assert told in (
        [f"This lead was already accepted by {person(lead.owner)}."],
        [f"{person(lead.owner)} claimed this lead first."],
    )
