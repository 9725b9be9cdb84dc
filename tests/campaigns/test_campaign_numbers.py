"""The campaign list, the campaign page and the feedback page show the dashboard's numbers:
one definition, read from the same statistics, so a campaign never has two counts."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from leads import services as marketing
from leads.models import Lead, Stage
from leads.reporting.definitions import COUNTS, Filters
from tests import factories, reference

NUMBERS = (*COUNTS, "won_value", "acceptance_rate", "contact_in_sla_rate", "win_rate")


@pytest.fixture
def campaign_world(make_lead, rep, campaign):
    """A campaign with leads in most stages, two sales-generated leads logged against it,
    one lead created long ago, and leads of another campaign that must not count."""
    make_lead(Stage.HANDED_OFF)
    make_lead(Stage.ACCEPTED)
    make_lead(Stage.REJECTED)
    make_lead(Stage.CONTACTED)
    make_lead(Stage.WON)
    make_lead(Stage.LOST)
    for i in range(2):  # a rep's own find, attached to the campaign: accepted, never handed
        marketing.lead_intake(
            by=rep, data={"last_name": f"Found{i}", "email": f"found{i}@x.test"}, campaign=campaign
        )
    old = make_lead(Stage.MQL)
    Lead.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=400))
    other = factories.CampaignFactory()
    factories.LeadFactory(campaign=other)
    return campaign


def numbers(funnel):
    return {name: funnel[name] for name in NUMBERS}


def test_accepted_step_is_the_acceptance_rate_and_never_300_percent(
    marketer_client, make_lead, rep, campaign
):
    make_lead(Stage.HANDED_OFF)
    for i in range(3):
        marketing.lead_intake(
            by=rep, data={"last_name": f"Found{i}", "email": f"f{i}@x.test"}, campaign=campaign
        )
    response = marketer_client.get(campaign.get_absolute_url())
    steps = {step["key"]: step for step in response.context["steps"]}
    assert steps["accepted"]["count"] == 3
    assert steps["accepted"]["conversion"] == 0  # of the one handed-off lead, none accepted
    assert steps["accepted"]["sales_generated"] == 3
    body = response.content.decode()
    assert "300" not in body.split('data-step="accepted"')[1].split("</tr>")[0]
    assert "incl. 3 sales-generated, not handed off" in body


def test_campaign_page_equals_the_dashboard_for_that_campaign_and_period(
    client, manager, campaign_world
):
    client.force_login(manager)
    campaign = campaign_world
    page = client.get(campaign.get_absolute_url())
    filters = page.context["filters"]
    # By default the page covers the campaign's whole life, the 400-day-old lead included.
    first = timezone.localtime(Lead.objects.order_by("created_at").first().created_at).date()
    assert filters.start == min(first, campaign.start_date)
    assert page.context["funnel"]["generated"] == 9
    dashboard = client.get(page.context["dashboard_url"])
    assert dashboard.context["filters"] == filters
    assert numbers(page.context["funnel"]) == numbers(dashboard.context["funnel"])
    assert page.context["steps"] == dashboard.context["steps"]
    assert numbers(page.context["funnel"]) == numbers(reference.funnel(filters))

    # Any other period: still the dashboard's numbers for the same filters.
    today = filters.end
    recent = client.get(
        campaign.get_absolute_url(), {"start": today - dt.timedelta(days=30), "end": today}
    )
    assert recent.context["funnel"]["generated"] == 8
    dashboard = client.get(
        reverse("dashboard"),
        {"campaign": campaign.pk, "start": today - dt.timedelta(days=30), "end": today},
    )
    assert numbers(recent.context["funnel"]) == numbers(dashboard.context["funnel"])
    assert recent.context["funnel"]["accepted"] == 6  # 4 via handoff, 2 sales-generated
    assert recent.context["funnel"]["acceptance_rate"] == 4 / 6


def test_campaign_page_reports_a_bad_period_and_shows_the_whole_life(
    marketer_client, campaign_world
):
    url = campaign_world.get_absolute_url()
    for bad in ({"start": "9999-12-01", "end": "9999-12-31"}, {"end": "0001-02-01"}):
        response = marketer_client.get(url, bad)
        assert response.status_code == 200
        assert "Enter a date between 1900 and 9998." in response.content.decode()
        assert response.context["funnel"]["generated"] == 9


def test_campaign_list_counts_equal_the_reference_over_all_time(
    marketer_client, campaign_world, rep
):
    campaign = campaign_world
    won = Lead.objects.get(campaign=campaign, stage=Stage.WON)
    response = marketer_client.get(reverse("campaigns:list"))
    row = next(c for c in response.context["campaigns"] if c.pk == campaign.pk)
    ever = Filters(start=dt.date(1900, 1, 1), end=dt.date(9998, 12, 31), campaign=campaign)
    raw = reference.funnel(ever)
    assert (row.generated, row.handed_off, row.accepted, row.won, row.won_value) == (
        raw["generated"],
        raw["handed_off"],
        raw["accepted"],
        raw["won"],
        raw["won_value"],
    )
    assert row.won_value == won.deal_value
    # A change shows on the next visit: the page refreshes the statistics first.
    marketing.lead_intake(
        by=rep, data={"last_name": "Later", "email": "later@x.test"}, campaign=campaign
    )
    response = marketer_client.get(reverse("campaigns:list"))
    row = next(c for c in response.context["campaigns"] if c.pk == campaign.pk)
    assert (row.generated, row.accepted) == (raw["generated"] + 1, raw["accepted"] + 1)


@pytest.mark.parametrize(
    "query",
    ["?start=9999-12-01&end=9999-12-31", "?end=0001-02-01", "?start=0001-01-01", "?end=x"],
)
def test_feedback_period_out_of_range_is_a_form_error_not_a_500(marketer_client, query):
    response = marketer_client.get(reverse("campaigns:feedback") + query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "Showing the last 90 days instead." in response.content.decode()


def test_feedback_rows_equal_the_dashboards_per_campaign(manager, client, campaign_world):
    client.force_login(manager)
    feedback = client.get(reverse("campaigns:feedback"))
    row = next(r for r in feedback.context["by_campaign"] if r["campaign"] == campaign_world.pk)
    dashboard = client.get(reverse("dashboard"), {"campaign": campaign_world.pk})
    funnel = dashboard.context["funnel"]
    for name in ("generated", "handed_off", "accepted", "rejected", "contacted", "won", "lost"):
        assert row[name] == funnel[name], name
    assert row["acceptance_rate"] == funnel["acceptance_rate"]
