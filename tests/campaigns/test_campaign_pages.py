import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from leads.models import Stage
from leads.reporting import stats
from tests import factories

PAGES = [
    ("get", "campaigns:list", False),
    ("get", "campaigns:create", False),
    ("get", "campaigns:feedback", False),
    ("get", "campaigns:detail", True),
    ("get", "campaigns:update", True),
    ("post", "campaigns:rotate_key", True),
]


@pytest.mark.parametrize("method, name, needs_pk", PAGES)
def test_campaign_pages_are_for_marketers_and_managers_only(
    client, marketer, rep, manager, campaign, method, name, needs_pk
):
    url = reverse(name, args=[campaign.pk] if needs_pk else [])
    response = getattr(client, method)(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(rep)
    assert getattr(client, method)(url).status_code == 403
    for user in (marketer, manager):
        client.force_login(user)
        assert getattr(client, method)(url).status_code in (200, 302)


def _form(**overrides):
    data = {
        "name": "Spring webinar",
        "channel": "events",
        "start_date": "2026-03-01",
        "end_date": "2026-04-01",
        "budget": "5000",
        "utm_campaign": "spring-webinar",
        "allowed_origin": "https://www.example.com",
        "description": "",
        "owner": "",
    }
    data.update(overrides)
    return data


def test_marketer_creates_campaign_and_becomes_its_owner(marketer_client, marketer):
    response = marketer_client.post(reverse("campaigns:create"), _form())
    campaign = Campaign.objects.get(name="Spring webinar")
    assert response.status_code == 302 and response["Location"] == campaign.get_absolute_url()
    assert campaign.owner == marketer
    assert campaign.budget == Decimal("5000")
    assert campaign.intake_key


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"end_date": "2026-02-01"}, "end_date", "cannot be before the start date"),
        ({"budget": "-1"}, "budget", "cannot be negative"),
        ({"utm_campaign": "TAKEN-code"}, "utm_campaign", "already uses this UTM code"),
        ({"name": ""}, "name", "required"),
        ({"start_date": "not a date"}, "start_date", "valid date"),
    ],
)
def test_campaign_form_refuses_bad_values_with_field_errors(
    marketer_client, overrides, field, message
):
    factories.CampaignFactory(utm_campaign="taken-code")
    response = marketer_client.post(reverse("campaigns:create"), _form(**overrides))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Campaign.objects.filter(name="Spring webinar").exists()


def test_submitting_the_same_new_campaign_twice_makes_one(marketer_client):
    """The back button and Save again (a tester made two "Double submit camp"s)."""
    form = _form(utm_campaign="")
    assert marketer_client.post(reverse("campaigns:create"), form).status_code == 302
    again = marketer_client.post(reverse("campaigns:create"), {**form, "name": "spring WEBINAR"})
    assert again.status_code == 200
    assert "already exists" in " ".join(again.context["form"].errors["name"])
    assert Campaign.objects.filter(name__iexact="Spring webinar").count() == 1


def test_editing_keeps_own_utm_code_and_saves(marketer_client, campaign):
    data = _form(name="Renamed", utm_campaign=campaign.utm_campaign.upper())
    response = marketer_client.post(reverse("campaigns:update", args=[campaign.pk]), data)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Renamed"


def test_rotating_the_key_replaces_it(marketer_client, campaign):
    old = campaign.intake_key
    response = marketer_client.post(reverse("campaigns:rotate_key", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.intake_key != old and len(campaign.intake_key) >= 24


def test_rotate_key_needs_post(marketer_client, campaign):
    assert (
        marketer_client.get(reverse("campaigns:rotate_key", args=[campaign.pk])).status_code == 405
    )


def test_campaign_list_counts_and_cost_per_lead(marketer_client, make_lead, campaign, rep):
    campaign.spend_entries.update(amount=Decimal("300"))
    make_lead(Stage.NEW)
    make_lead(Stage.ACCEPTED)
    make_lead(Stage.WON)
    empty = factories.CampaignFactory(name="Empty one", spend=100)
    response = marketer_client.get(reverse("campaigns:list") + "?sort=generated")
    rows = {c.pk: c for c in response.context["campaigns"]}
    row = rows[campaign.pk]
    assert (row.generated, row.handed_off, row.accepted, row.won) == (3, 2, 2, 1)
    assert row.cost_per_lead == Decimal("100")
    assert rows[empty.pk].generated == 0 and rows[empty.pk].cost_per_lead is None
    assert list(rows)[0] == campaign.pk  # sorted by leads generated, most first


@pytest.fixture
def priced():
    """Cost per lead 10 (Cheap), 1000 (Dear) and none (Empty: spend but no leads)."""
    cheap = factories.CampaignFactory(name="Cheap", spend=10)
    dear = factories.CampaignFactory(name="Dear", spend=1000)
    empty = factories.CampaignFactory(name="Empty", spend=50)
    for c in (cheap, dear):
        factories.LeadFactory(campaign=c)
    return cheap, dear, empty


def test_campaign_list_sorts_by_cost_per_lead_with_empty_campaigns_last(marketer_client, priced):
    cheap, dear, empty = priced
    response = marketer_client.get(reverse("campaigns:list") + "?sort=cpl")
    assert [c.pk for c in response.context["campaigns"]] == [cheap.pk, dear.pk, empty.pk]


def test_every_campaign_column_sorts_both_ways(marketer_client, priced):
    cheap, dear, empty = priced
    page = marketer_client.get(reverse("campaigns:list") + "?sort=-cpl")
    assert [c.pk for c in page.context["campaigns"]] == [dear.pk, cheap.pk, empty.pk]
    body = page.content.decode()
    assert 'aria-sort="descending"><a href="?sort=cpl"' in body  # the link turns it back
    by_name = marketer_client.get(reverse("campaigns:list") + "?sort=-name")
    assert [c.name for c in by_name.context["campaigns"]] == ["Empty", "Dear", "Cheap"]
    assert 'href="?sort=name"' in by_name.content.decode()
    ascending = marketer_client.get(reverse("campaigns:list") + "?sort=name")
    assert 'aria-sort="ascending"><a href="?sort=-name"' in ascending.content.decode()


def test_campaign_list_query_count_does_not_grow(marketer_client, django_assert_num_queries):
    def campaigns_with_a_lead(n):
        for _ in range(n):
            factories.LeadFactory(campaign=factories.CampaignFactory())
        # The list reads the statistics: once refreshed past the overlap window in which a
        # refresh re-reads recent changes, the page's own refresh finds nothing to do.
        stats.rebuild()
        later = timezone.now() + stats.REFRESH_OVERLAP + dt.timedelta(minutes=1)
        with time_machine.travel(later):
            stats.refresh()
        return time_machine.travel(later + dt.timedelta(minutes=1))

    with campaigns_with_a_lead(5), CaptureQueriesContext(connection) as few:
        assert marketer_client.get(reverse("campaigns:list")).status_code == 200
    with campaigns_with_a_lead(30), django_assert_num_queries(len(few)):
        response = marketer_client.get(reverse("campaigns:list"))
    assert len(response.context["campaigns"]) == 35
    # Session, user, groups, the refresh (10), count, bell, page, and the page's campaigns'
    # lifetime sums and spend (one grouped query each).
    assert len(few) <= 18


def test_campaign_page_shows_funnel_leads_key_and_escaped_snippet(
    marketer_client, make_lead, campaign
):
    make_lead(Stage.WON, first_name="Grace", last_name="Hopper")
    make_lead(Stage.REJECTED)
    response = marketer_client.get(campaign.get_absolute_url())
    funnel = response.context["funnel"]
    assert (funnel["generated"], funnel["handed_off"], funnel["won"], funnel["rejected"]) == (
        2,
        2,
        1,
        1,
    )
    body = response.content.decode()
    assert "Grace Hopper" in body
    assert campaign.intake_key in body
    # The snippet is shown as text inside a textarea, never rendered as a live form.
    assert f"&lt;form action=&quot;http://testserver/intake/{campaign.intake_key}/&quot;" in body
    assert body.count("<textarea") == body.count("</textarea>")


def test_feedback_counts_per_campaign_with_reasons_and_waiting_list(
    marketer_client, make_lead, campaign, rep
):
    from sales import services as sales

    make_lead(Stage.REJECTED)
    lost = make_lead(Stage.CONTACTED)
    sales.activity_log(lead=lost, by=rep, kind="call", objections=["price", "timing"])
    sales.lead_lose(lead=lost, by=rep, reason="competitor")
    response = marketer_client.get(reverse("campaigns:feedback"))
    row = next(r for r in response.context["by_campaign"] if r["campaign"] == campaign.pk)
    assert (row["generated"], row["handed_off"], row["accepted"], row["rejected"]) == (2, 2, 1, 1)
    assert row["lost"] == 1 and row["contacted"] == 1
    assert row["rejections"][0] == 1  # not_a_fit, the first reason
    assert row["lost_reasons"][1] == 1  # competitor
    assert row["objections"][:2] == [1, 1]  # price, timing
    assert [lead.last_name for lead in response.context["waiting"]] == ["Lovelace1"]


def test_feedback_period_excludes_older_leads_and_bad_dates_are_reported(
    marketer_client, make_lead
):
    lead = make_lead(Stage.NEW)
    lead.created_at -= dt.timedelta(days=200)
    lead.save()
    response = marketer_client.get(reverse("campaigns:feedback"))
    assert response.context["by_campaign"] == []
    response = marketer_client.get(
        reverse("campaigns:feedback") + "?start=2026-05-01&end=2026-01-01"
    )
    assert response.status_code == 200
    assert "cannot be before the start date" in response.content.decode()


def test_the_allowed_site_is_kept_as_its_origin(marketer_client, campaign):
    from campaigns.forms import CampaignForm

    data = {
        "name": campaign.name,
        "channel": campaign.channel,
        "start_date": campaign.start_date.isoformat(),
        "budget": "0",
        "owner": campaign.owner.pk,
        "utm_campaign": campaign.utm_campaign,
        "allowed_origin": "https://WWW.Example.com:443/path?x=1",
    }
    form = CampaignForm(data, instance=campaign)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["allowed_origin"] == "https://www.example.com"
    bad = CampaignForm({**data, "allowed_origin": "ftp://example.com"}, instance=campaign)
    assert "allowed_origin" in bad.errors


def test_feedback_names_sales_generated_leads_alike_in_every_table(marketer_client, rep):
    from leads import services as marketing
    from sales import services as sales

    found = marketing.lead_intake(by=rep, data={"last_name": "Hopper", "email": "g@x.example"})
    sales.activity_log(lead=found.lead, by=rep, kind="call", objections=["price"])
    sales.lead_lose(lead=found.lead, by=rep, reason="competitor")
    html = marketer_client.get(reverse("campaigns:feedback")).content.decode()
    label = '<th scope="row" class="small">No campaign (sales-generated)</th>'
    for table in ("feedback-lost", "feedback-objections"):
        section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
        assert label in section, table
