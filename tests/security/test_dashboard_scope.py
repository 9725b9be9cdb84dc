"""The dashboard's drill-downs and CSVs are in the reader's scope (issue 15, finding 3): a
rep sees everyone's figures, but no list names or links a lead outside their scope; the
false-rejection list shows a rep only their own rejections of leads they may open."""

import csv
import io
import re

import pytest
from django.urls import reverse

from leads import services as marketing
from leads.models import Lead
from leads.reporting.views import TABLES
from sales import services as sales

from .walk import ROUTES, SCOPE_WALKED

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2000-01-01", "end": "2099-12-31"}


@pytest.fixture
def false_rejection(world):
    """rep1 rejected a lead that rep2 later won: a false rejection against rep1."""
    m, rep, other = world.users["marketer"], world.users["rep"], world.users["other_rep"]
    lead = marketing.lead_qualify(
        lead=marketing.lead_intake(
            by=m,
            data={"first_name": "Rejected", "last_name": "Won", "email": "fr@example.com"},
            campaign=world.campaign,
        ).lead,
        by=m,
    )
    marketing.lead_hand_off(lead=lead, by=m, to_user=rep)
    sales.lead_reject(lead=lead, by=rep, reason="not_a_fit")
    marketing.lead_hand_off(lead=Lead.objects.get(pk=lead.pk), by=m, to_user=other)
    lead = Lead.objects.get(pk=lead.pk)
    sales.lead_accept(lead=lead, by=other)
    sales.activity_log(lead=lead, by=other, kind="call", outcome="connected")
    sales.lead_to_opportunity(lead=lead, by=other, value="5000")
    sales.lead_win(lead=lead, by=other, value="6000")
    return Lead.objects.get(pk=lead.pk)


def test_every_dashboard_route_of_the_url_walk_is_walked_for_scope():
    walked = {name for name, row in ROUTES.items() if row.notes == SCOPE_WALKED}
    dashboards = {name for name in ROUTES if name.startswith("dashboard")}
    assert walked == dashboards == {"dashboard", "dashboard_csv"}


def answers(client):
    """The dashboard page and every one of its CSVs, as text."""
    yield "page", client.get(reverse("dashboard"), PERIOD).content.decode()
    for table in TABLES:
        response = client.get(reverse("dashboard_csv", args=[table]), PERIOD)
        assert response.status_code == 200, table
        yield table, response.content.decode()


def lead_references(name, text):
    """Lead ids the answer links to, and those of a CSV's lead_id column (the false
    rejections, the leads held longest)."""
    ids = {int(n) for n in re.findall(r"/leads/(\d+)/", text)}
    if name != "page":
        rows = list(csv.reader(io.StringIO(text)))
        if "lead_id" in rows[0]:
            column = rows[0].index("lead_id")
            ids |= {int(row[column]) for row in rows[1:]}
    return ids


@pytest.mark.parametrize("role", ["rep", "other_rep"])
def test_a_reps_dashboard_and_csvs_name_no_lead_outside_their_scope(world, false_rejection, role):
    user = world.users[role]
    in_scope = set(Lead.objects.for_user(user).values_list("pk", flat=True))
    client = world.client(role)
    for name, text in answers(client):
        outside = lead_references(name, text) - in_scope
        assert not outside, f"{role}'s {name} names leads outside their scope: {outside}"
        if role == "rep":  # rep1 rejected it, but it is rep2's now
            assert str(false_rejection) not in text, name


def test_the_won_reps_false_rejection_list_and_the_managers_show_it(world, false_rejection):
    manager_page = world.client("manager").get(reverse("dashboard"), PERIOD).content.decode()
    assert false_rejection.get_absolute_url() in manager_page
    csv = world.client("manager").get(reverse("dashboard_csv", args=["false_rejections"]), PERIOD)
    assert f"{false_rejection.pk},{false_rejection}" in csv.content.decode()
    # rep2 won it but did not reject it: not in rep2's list either.
    rep2 = world.client("other_rep").get(
        reverse("dashboard_csv", args=["false_rejections"]), PERIOD
    )
    assert len(rep2.content.decode().strip().splitlines()) == 1  # the header only


def test_a_rep_still_sees_everyones_figures(world, false_rejection):
    reps = world.client("rep").get(reverse("dashboard_csv", args=["reps"]), PERIOD)
    body = reps.content.decode()
    assert "rep1" in body and "rep2" in body
