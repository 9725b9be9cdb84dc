"""Revenue at risk (SPEC §5, issue 19 item 4) on a small world worked out by hand.

Period 1–31 October 2026 (Europe/Amsterdam); comparable leads are those created
1 October 2025 – 30 September 2026. Campaigns A and A2 (search ads), B (email).

Comparable, handed-off leads:
  search ads: 4 handed off, 2 won (A 1000, A2 3000)  -> 2/4 x 2000  = 1000.00 a lead
              (a sales-generated win of 9999 on A is not comparable: never handed off)
  email:      3 handed off, 1 won (700, created 1 Oct 2025 00:30 local, the window's
              first day)                              -> 1/3 x 700   = 233.33... a lead
              (a win of 100000 on 30 Sep 2025 23:00 local is a day too early)

October's handed-off leads that are not won:
  A  x2 rejected, never accepted                        marketing
  A  r1, a response flag with r1 responsible            sales
  A  r1, accepted, nothing wrong                        in progress
  B  rejected                                           marketing
  B  r2, lost unreached after 2 attempts (< 6)           sales
  B  r2, lost after a connect                            market
  B  r2, a response flag with r1 responsible (before a reassign): overall sales, but
     not r2's own delay, so per rep (r2) in progress
"""

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from leads.models import Flag, Origin, Stage
from leads.reporting import definitions, stats
from tests import factories

AMS = ZoneInfo("Europe/Amsterdam")
OCT = dt.datetime(2026, 10, 12, 10, 0, tzinfo=AMS)
HIST = dt.datetime(2026, 3, 15, 10, 0, tzinfo=AMS)
H = dt.timedelta(hours=1)
QUERY = "start=2026-10-01&end=2026-10-31"


@pytest.fixture
def world(db):
    m = factories.marketer(username="mk")
    r1 = factories.rep(username="r1")
    r2 = factories.rep(username="r2")
    a = factories.CampaignFactory(name="A", channel="search_ads", owner=m)
    a2 = factories.CampaignFactory(name="A2", channel="search_ads", owner=m)
    b = factories.CampaignFactory(name="B", channel="email", owner=m)

    def lead(campaign, created, **fields):
        handed = fields.pop("handed", True)
        if handed:
            fields.setdefault("handed_off_at", created + H)
        return factories.LeadFactory(campaign=campaign, created_at=created, **fields)

    def won(campaign, created, value, **fields):
        return lead(
            campaign,
            created,
            stage=Stage.WON,
            owner=r1,
            accepted_at=created + 2 * H,
            closed_at=created + 5 * H,
            deal_value=Decimal(value),
            **fields,
        )

    def lost(campaign, created, **fields):
        fields.setdefault("first_connect_at", created + 3 * H)
        return lead(
            campaign,
            created,
            stage=Stage.LOST,
            owner=fields.pop("owner", r1),
            accepted_at=created + 2 * H,
            first_contact_at=created + 3 * H,
            closed_at=created + 5 * H,
            lost_reason=fields.pop("lost_reason", "price"),
            **fields,
        )

    # The comparable leads.
    won(a, HIST, "1000")
    won(a2, HIST, "3000")
    lost(a, HIST)
    lost(a2, HIST)
    won(a, HIST, "9999", handed=False, origin=Origin.SALES)
    won(b, dt.datetime(2025, 10, 1, 0, 30, tzinfo=AMS), "700")
    lost(b, HIST)
    lost(b, HIST)
    won(b, dt.datetime(2025, 9, 30, 23, 0, tzinfo=AMS), "100000")
    # October.
    for campaign in (a, a, b):
        lead(campaign, OCT, stage=Stage.REJECTED, rejected_at=OCT + 2 * H)
    flagged = lead(a, OCT, stage=Stage.ACCEPTED, owner=r1, accepted_at=OCT + 2 * H)
    Flag.objects.create(
        lead=flagged, kind="response_overdue", side="sales", responsible=r1, raised_at=OCT + 30 * H
    )
    lead(a, OCT, stage=Stage.ACCEPTED, owner=r1, accepted_at=OCT + 2 * H)
    lost(
        b,
        OCT,
        owner=r2,
        first_connect_at=None,
        attempts_before_connect=2,
        lost_reason="unresponsive",
    )
    lost(b, OCT, owner=r2)
    reassigned = lead(b, OCT, stage=Stage.ACCEPTED, owner=r2, accepted_at=OCT + 2 * H)
    Flag.objects.create(
        lead=reassigned,
        kind="response_overdue",
        side="sales",
        responsible=r1,
        raised_at=OCT + 30 * H,
    )
    won(b, dt.datetime(2026, 10, 1, 9, 0, tzinfo=AMS), "50000")  # in the period: won, no risk
    stats.rebuild()
    manager = factories.manager(username="boss")
    client = Client()
    client.force_login(manager)
    return {"a": a, "a2": a2, "b": b, "r1": r1, "r2": r2, "client": client}


def october(**kwargs):
    return definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), **kwargs)


def money(*values):
    return dict(zip(definitions.DROPPED_CATEGORIES, (Decimal(v) for v in values), strict=True))


def test_the_comparable_value_per_lead_is_win_rate_times_average_won_deal(world):
    values = stats.comparable_values(dt.date(2026, 10, 1))
    assert values["search_ads"] == Decimal(1000)
    assert values["email"].quantize(Decimal("0.0001")) == Decimal("233.3333")


def test_the_window_is_the_365_days_before_the_period_starts(world):
    # A period from 30 Sep 2026 reaches back to 30 Sep 2025: the 100000 win counts, and
    # the 700 one still does (1 Oct 2025), 2 of 4 handed-off email leads won.
    values = stats.comparable_values(dt.date(2026, 9, 30))
    assert values["email"] == Decimal(100700) / 2 / 4 * 2  # rate 2/4 x average 50350
    # From 2 Oct 2026 the window runs 2 Oct 2025 – 1 Oct 2026: the 700 win is out and the
    # 50000 win of 1 Oct 2026 is in: 1 of 3 handed-off email leads won, at 50000.
    later = stats.comparable_values(dt.date(2026, 10, 2))
    assert later["email"].quantize(Decimal("0.01")) == Decimal("16666.67")
    # Before March 2026 no search-ads lead was won: that channel risks nothing then.
    assert stats.comparable_values(dt.date(2026, 3, 1)).get("search_ads", 0) == 0
    assert definitions.risk_window(dt.date(2026, 10, 1)) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
    )


def test_dashboard_shows_each_bucket_with_its_revenue_at_risk(world):
    response = world["client"].get(f"/dashboard/?{QUERY}")
    assert response.status_code == 200
    dropped = {d["key"]: (d["count"], d["revenue_at_risk"]) for d in response.context["dropped"]}
    assert dropped == {
        "marketing": (3, Decimal("2233.33")),  # 2 x 1000 + 233.33
        "sales": (3, Decimal("1466.67")),  # 1000 + 2 x 233.33
        "market": (1, Decimal("233.33")),
        "in_progress": (1, Decimal("1000.00")),
    }
    page = response.content.decode()
    assert "2,233.33 at risk" in page and 'id="risk-method"' in page


def test_revenue_at_risk_per_campaign_and_channel(world):
    response = world["client"].get(f"/dashboard/?{QUERY}")
    rows = {
        r["campaign"].name: r["revenue_at_risk"]
        for r in response.context["marketing"]["campaigns"]
    }
    assert rows["A"] == money("2000.00", "1000.00", "0.00", "1000.00")
    assert rows["B"] == money("233.33", "466.67", "233.33", "0.00")
    assert rows["A2"] == money("0.00", "0.00", "0.00", "0.00")
    channels = {
        c["channel"]: c["revenue_at_risk"] for c in response.context["marketing"]["channels"]
    }
    assert channels["email"] == rows["B"]


def test_revenue_at_risk_per_rep_counts_only_their_own_delays(world):
    response = world["client"].get(f"/dashboard/?{QUERY}")
    reps = {r["rep"].username: r for r in response.context["reps"]}
    assert reps["r1"]["dropped"] == {"marketing": 0, "sales": 1, "market": 0, "in_progress": 1}
    assert reps["r1"]["revenue_at_risk"] == money("0.00", "1000.00", "0.00", "1000.00")
    # The lead flagged while r1 held it is in progress for r2, as the salesperson filter
    # counts it.
    assert reps["r2"]["dropped"] == {"marketing": 0, "sales": 1, "market": 1, "in_progress": 1}
    assert reps["r2"]["revenue_at_risk"] == money("0.00", "233.33", "233.33", "233.33")
    filtered = stats.revenue_at_risk(october(owner=world["r2"]))["overall"]
    assert filtered == reps["r2"]["revenue_at_risk"]


def _csv(client, table):
    response = client.get(f"/dashboard/{table}.csv?{QUERY}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csvs_carry_revenue_at_risk_to_the_cent(world):
    client = world["client"]
    dropped = {r["side"]: r["revenue_at_risk"] for r in _csv(client, "ball_dropped")}
    assert dropped == {
        "marketing": "2233.33",
        "sales": "1466.67",
        "market": "233.33",
        "in_progress": "1000.00",
    }
    campaigns = {r["campaign"]: r for r in _csv(client, "campaigns")}
    assert campaigns["B"]["revenue_at_risk_sales"] == "466.67"
    reps = {r["rep"]: r for r in _csv(client, "reps")}
    assert (reps["r2"]["dropped_in_progress"], reps["r2"]["revenue_at_risk_in_progress"]) == (
        "1",
        "233.33",
    )


def test_the_funnel_api_returns_revenue_at_risk_as_decimal_strings(world):
    body = world["client"].get(f"/api/v1/funnel/?{QUERY}").json()
    assert body["revenue_at_risk"] == {
        "marketing": "2233.33",
        "sales": "1466.67",
        "market": "233.33",
        "in_progress": "1000.00",
    }
    by_rep = world["client"].get(f"/api/v1/funnel/?{QUERY}&owner={world['r2'].pk}").json()
    assert by_rep["revenue_at_risk"]["in_progress"] == "233.33"
