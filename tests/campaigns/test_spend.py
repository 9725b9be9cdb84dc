"""Spend over time (issue 19): entries prorated by day, one definition on every page, the
entries' API, the CSV upload and the migration of the old all-time spend."""

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from campaigns import spend
from campaigns.models import SpendEntry
from leads.models import Lead, Stage
from leads.reporting import stats
from tests import factories

OCT = dt.date(2026, 10, 1)


def day(n, month=10):
    return dt.date(2026, month, n)


def entry(campaign, start, end, amount):
    return SpendEntry.objects.create(
        campaign=campaign, start=start, end=end, amount=Decimal(amount)
    )


@pytest.fixture
def bare(db):
    """A campaign without the factory's default spend entry."""
    return factories.CampaignFactory(name="Bare", utm_campaign="bare-code", spend=0)


# --- the definition, by hand ----------------------------------------------------------


def test_an_entry_counts_by_the_share_of_its_days_inside_the_period(bare):
    entry(bare, day(1), day(31), "3100.00")
    assert spend.spend_by_campaign(day(1), day(10)) == {bare.pk: Decimal("1000.00")}
    assert spend.spend_by_campaign(day(1), day(31)) == {bare.pk: Decimal("3100.00")}
    assert spend.spend_by_campaign(day(31), day(30, 11)) == {bare.pk: Decimal("100.00")}
    assert spend.spend_by_campaign(day(1, 11), day(30, 11)) == {}


def test_an_entry_straddling_the_period_start_counts_only_its_days_inside(bare):
    entry(bare, day(27, 9), day(6), "1000.00")  # 27 Sep - 6 Oct: 10 days
    assert spend.spend_by_campaign(day(1), day(31)) == {bare.pk: Decimal("600.00")}


def test_several_entries_add_up_and_round_to_the_cent_once_per_campaign(bare):
    other = factories.CampaignFactory(spend=0)
    entry(bare, day(1), day(3), "100.00")  # 1 of 3 days: 33.333…
    entry(bare, day(3), day(5), "100.00")  # 1 of 3 days: 33.333…
    entry(bare, day(5), day(5), "12.34")  # outside
    entry(other, day(2), day(2), "0.01")
    spends = spend.spend_by_campaign(day(3), day(3))
    # 66.666… rounded once, not 33.33 + 33.33; the other campaign spent nothing that day.
    assert spends == {bare.pk: Decimal("66.67")}
    assert spend.spend_by_campaign(day(1), day(31), [other]) == {other.pk: Decimal("0.01")}
    assert spend.total(spends.values()) == Decimal("66.67")


def test_lifetime_spend_is_the_sum_of_the_entries(bare):
    entry(bare, day(1), day(3), "100.00")
    entry(bare, day(3, 1), day(5, 12), "0.50")
    assert spend.lifetime_spend_of(bare) == Decimal("100.50")
    assert spend.lifetime_by_campaign([bare.pk]) == {bare.pk: Decimal("100.50")}


# --- one number on every page -----------------------------------------------------------


def _lead(campaign, created, stage=Stage.NEW, value=None):
    lead = factories.LeadFactory(campaign=campaign)
    Lead.objects.filter(pk=lead.pk).update(
        created_at=created, stage=stage, deal_value=value, updated_at=created
    )
    return lead


def _prorated_by_hand(entries, start, end):
    """The spend of a period from (start, end, amount) entries, written out again."""
    total = Decimal(0)
    for first, last, amount in entries:
        inside = (min(last, end) - max(first, start)).days + 1
        if inside > 0:
            total += Decimal(amount) * inside / ((last - first).days + 1)
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_cost_per_lead_of_90_days_is_the_same_prorated_spend_on_every_page(manager_client):
    end = timezone.localdate()
    start = end - dt.timedelta(days=89)
    plans = {
        "Search": [
            (start - dt.timedelta(days=20), start + dt.timedelta(days=9), "3000.00"),
            (start + dt.timedelta(days=10), end + dt.timedelta(days=30), "7777.77"),
        ],
        "Fair": [(start - dt.timedelta(days=400), start - dt.timedelta(days=1), "9000.00")],
        "Mail": [(start + dt.timedelta(days=3), start + dt.timedelta(days=3), "12.34")],
    }
    expected = {}
    for name, entries in plans.items():
        campaign = factories.CampaignFactory(name=name, spend=0)
        for first, last, amount in entries:
            entry(campaign, first, last, amount)
        noon = timezone.make_aware(dt.datetime.combine(start + dt.timedelta(days=5), dt.time(12)))
        for i in range(3 if name != "Mail" else 7):
            _lead(campaign, noon + dt.timedelta(days=i))
        _lead(campaign, noon, Stage.WON, Decimal("100.00"))
        _lead(campaign, noon - dt.timedelta(days=100))  # outside the cohort
        generated = (3 if name != "Mail" else 7) + 1
        period_spend = _prorated_by_hand(entries, start, end)
        expected[campaign.pk] = (
            period_spend,
            (period_spend / generated).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            period_spend.quantize(Decimal("0.01")),  # one won deal
        )
    stats.rebuild()
    query = f"start={start}&end={end}"

    dashboard = manager_client.get(f"/dashboard/?{query}").context
    rows = {row["campaign"].pk: row for row in dashboard["marketing"]["campaigns"]}
    csv_rows = {
        row["campaign"]: row
        for row in csv.DictReader(
            io.StringIO(manager_client.get(f"/dashboard/campaigns.csv?{query}").content.decode())
        )
    }
    for pk, (period_spend, per_lead, per_won) in expected.items():
        row = rows[pk]
        assert (row["spend"], row["cost_per_lead"], row["cost_per_won"]) == (
            period_spend,
            per_lead,
            per_won,
        )
        page = manager_client.get(f"/campaigns/{pk}/?{query}").context
        assert (page["spend_in_period"], page["cost_per_lead"], page["cost_per_won"]) == (
            period_spend,
            per_lead,
            per_won,
        )
        api = manager_client.get(f"/api/v1/funnel/?{query}&campaign={pk}").json()
        assert (api["spend"], api["cost_per_lead"], api["cost_per_won"]) == (
            str(period_spend),
            str(per_lead),
            str(per_won),
        )
        in_csv = csv_rows[row["campaign"].name]
        assert (in_csv["spend"], in_csv["cost_per_lead"], in_csv["cost_per_won"]) == (
            str(period_spend),
            str(per_lead),
            str(per_won),
        )
    # The filter's spend is the sum of its campaigns' rounded spends.
    total = sum(e[0] for e in expected.values())
    assert dashboard["costs"]["spend"] == total
    generated = 4 + 4 + 8
    assert dashboard["costs"]["cost_per_lead"] == (total / generated).quantize(Decimal("0.01"))
    assert manager_client.get(f"/api/v1/funnel/?{query}").json()["spend"] == str(total)


def test_the_campaign_list_shows_lifetime_spend_and_cost_per_lead(marketer_client, bare):
    entry(bare, day(1), day(31), "100.00")
    entry(bare, day(1, 1), day(1, 1), "200.00")
    for _ in range(3):
        factories.LeadFactory(campaign=bare)
    stats.rebuild()
    response = marketer_client.get(reverse("campaigns:list") + "?sort=spend")
    row = next(c for c in response.context["campaigns"] if c.pk == bare.pk)
    assert (row.spend, row.generated, row.cost_per_lead) == (Decimal("300.00"), 3, Decimal("100"))
    assert "€300.00" in response.content.decode()


# --- the campaign page's spend section -------------------------------------------------


def test_marketer_records_and_deletes_spend_on_the_campaign_page(marketer_client, bare):
    url = reverse("campaigns:spend_add", args=[bare.pk])
    response = marketer_client.post(
        url, {"start": "2026-10-01", "end": "2026-10-31", "amount": "4200.00", "note": "Oct"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#spend")
    saved = SpendEntry.objects.get(campaign=bare)
    assert (saved.start, saved.end, saved.amount, saved.note) == (
        day(1),
        day(31),
        Decimal("4200.00"),
        "Oct",
    )
    page = marketer_client.get(reverse("campaigns:detail", args=[bare.pk]))
    assert list(page.context["spend_entries"]) == [saved]
    bad = marketer_client.post(url, {"start": "2026-10-31", "end": "2026-10-01", "amount": "1"})
    assert bad.status_code == 400
    assert "cannot be before the start date" in bad.content.decode()
    assert marketer_client.post(url, {"start": "2026-10-01", "end": "2026-10-01", "amount": "-1"})
    assert SpendEntry.objects.count() == 1
    delete = reverse("campaigns:spend_delete", args=[bare.pk, saved.pk])
    assert marketer_client.post(delete).status_code == 302
    assert not SpendEntry.objects.exists()


def test_a_rep_cannot_record_or_delete_spend(rep_client, bare):
    kept = entry(bare, day(1), day(2), "10.00")
    add = reverse("campaigns:spend_add", args=[bare.pk])
    body = {"start": "2026-10-01", "end": "2026-10-01", "amount": "5"}
    assert rep_client.post(add, body).status_code == 403
    delete = reverse("campaigns:spend_delete", args=[bare.pk, kept.pk])
    assert rep_client.post(delete).status_code == 403
    assert rep_client.get(reverse("campaigns:spend_upload")).status_code == 403
    assert list(SpendEntry.objects.all()) == [kept]


# --- the CSV upload --------------------------------------------------------------------


def _upload(client, text, name="costs.csv"):
    return client.post(
        reverse("campaigns:spend_upload"),
        {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
    )


def test_a_spend_csv_with_a_bad_row_reports_its_line_and_writes_nothing(marketer_client, bare):
    other = factories.CampaignFactory(name="Google Ads", utm_campaign="g-ads", spend=0)
    text = (
        "Date;Campaign;Amount\n"
        "2026-10-01;BARE;12,50\n"
        "2026-10-02;G-ADS;1.234,56\n"
        "2026-10-02;Nobody;5\n"
        "2026-10-03;Bare;five\n"
    )
    response = _upload(marketer_client, text)
    assert response.status_code == 400
    problems = response.context["report"].problems
    assert [line for line, _ in problems] == [4, 5]
    assert "Nobody" in problems[0][1] and "five" in problems[1][1]
    assert not SpendEntry.objects.exists()
    # The user confirms: the two good rows, nothing else.
    confirmed = marketer_client.post(
        reverse("campaigns:spend_upload"),
        {"content": response.context["content"], "skip_invalid": "on"},
    )
    assert confirmed.status_code == 302
    assert sorted(SpendEntry.objects.values_list("campaign", "start", "end", "amount")) == sorted(
        [
            (bare.pk, day(1), day(1), Decimal("12.50")),
            (other.pk, day(2), day(2), Decimal("1234.56")),
        ]
    )


def test_uploading_a_daily_report_again_replaces_its_days(marketer_client, bare):
    assert (
        _upload(marketer_client, "date,campaign,amount\n2026-10-01,Bare,10.00\n").status_code
        == 302
    )
    again = "date,campaign,amount\n2026-10-01,bare-code,12.00\n2026-10-02,Bare,1\n"
    assert _upload(marketer_client, again).status_code == 302
    assert sorted(SpendEntry.objects.values_list("start", "amount")) == [
        (day(1), Decimal("12.00")),
        (day(2), Decimal("1.00")),
    ]


def test_a_spend_csv_without_the_columns_is_refused(marketer_client, bare):
    response = _upload(marketer_client, "when,who,how much\n2026-10-01,Bare,1\n")
    assert response.status_code == 400
    assert "date, campaign and amount" in response.context["report"].error
    assert not SpendEntry.objects.exists()


# --- the migration of the old all-time spend ---------------------------------------------


def _migrate(*targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets))
    return executor.loader.project_state(list(targets)).apps


def test_the_old_spend_becomes_one_entry_over_the_campaigns_dates(transactional_db):
    before = _migrate(("campaigns", "0003_merge_auto_response_and_routing"))
    Campaign = before.get_model("campaigns", "Campaign")
    ended = Campaign.objects.create(
        name="Ended", channel="events", start_date=day(1, 3), end_date=day(31, 5),
        spend=Decimal("900.00"), intake_key="a" * 40,
    )  # fmt: skip
    ongoing = Campaign.objects.create(
        name="Ongoing", channel="email", start_date=day(1, 6), spend=Decimal("50.00"),
        intake_key="b" * 40,
    )  # fmt: skip
    Campaign.objects.create(
        name="Free", channel="referral", start_date=day(1, 6), spend=0, intake_key="c" * 40
    )
    try:
        after = _migrate(("campaigns", "0005_spend_from_total"))
        entries = after.get_model("campaigns", "SpendEntry").objects.order_by("campaign_id")
        assert [(e.campaign_id, e.start, e.end, e.amount) for e in entries] == [
            (ended.pk, day(1, 3), day(31, 5), Decimal("900.00")),
            (ongoing.pk, day(1, 6), timezone.localdate(), Decimal("50.00")),
        ]
        back = _migrate(("campaigns", "0003_merge_auto_response_and_routing"))
        totals = dict(back.get_model("campaigns", "Campaign").objects.values_list("name", "spend"))
        assert totals == {"Ended": Decimal("900.00"), "Ongoing": Decimal("50.00"), "Free": 0}
    finally:
        _migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())
