"""Multi-touch attribution (SPEC §5, issue 19 item 3): each model's weights worked out by
hand, the exact sums (every lead's credit is one lead and its deal value to the cent), the
statistics held to the independent computation of tests/reference.py, the refresh, the
dashboard panel and its CSV, and /api/v1/attribution/ and /api/v1/funnel/?model=."""

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leads import services as marketing
from leads.models import AttributionStats, Lead, Origin, Stage, Touch
from leads.reporting import attribution as a
from leads.reporting import definitions, stats
from sales import services as sales
from tests import factories, reference

AMS = ZoneInfo("Europe/Amsterdam")
T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=AMS)
D = dt.timedelta(days=1)
H = dt.timedelta(hours=1)
OCTOBER = definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))


def path(*days, mql=None, handoff=None):
    """Counted touches on these days after T0 (in microseconds, as the statistics read
    them), each marked at or before the MQL / handoff day given."""
    micro = D // dt.timedelta(microseconds=1)
    return [
        (
            round(day * micro),
            None,
            True,
            mql is not None and day <= mql,
            handoff is not None and day <= handoff,
        )
        for day in days
    ]


def split(model, touches, cents=0, mql=False, handoff=False):
    return a.split(model, touches, mql=mql, handoff=handoff, cents=cents)


# --- the models' weights, by hand ----------------------------------------------------


def test_linear_over_three_touches_is_a_third_each_with_the_remainder_to_the_first():
    credit, cents = split("linear", path(0, 1, 2), cents=100)
    assert credit == [333_334, 333_333, 333_333]
    assert cents == [34, 33, 33]


def test_first_and_last_touch_take_everything():
    touches = path(0, 1, 2, 3)
    assert split("first", touches, cents=999) == (
        [1_000_000, 0, 0, 0],
        [999, 0, 0, 0],
    )
    assert split("last", touches, cents=999) == (
        [0, 0, 0, 1_000_000],
        [0, 0, 0, 999],
    )


@pytest.mark.parametrize(
    "n, credit",
    [
        (1, [1_000_000]),
        (2, [500_000, 500_000]),
        (3, [400_000, 200_000, 400_000]),
        (4, [400_000, 100_000, 100_000, 400_000]),
        # 20 % over three: 66,666.67 each; the first of the middle touches takes the unit.
        (5, [400_000, 66_667, 66_667, 66_666, 400_000]),
    ],
)
def test_u_shaped_is_40_20_40(n, credit):
    assert split("u_shaped", path(*range(n)))[0] == credit


def test_w_shaped_gives_30_each_to_creation_mql_and_handoff_touches_and_10_to_the_rest():
    # Touches on days 0..4; MQL on day 1 (after the day-1 touch), handoff on day 3.5.
    touches = path(0, 1, 2, 3, 4, mql=1.1, handoff=3.5)
    credit, cents = split("w_shaped", touches, cents=1000, mql=True, handoff=True)
    assert credit == [300_000, 300_000, 50_000, 300_000, 50_000]
    assert cents == [300, 300, 50, 300, 50]


def test_w_shaped_adds_up_shared_key_touches_and_rescales_missing_moments():
    # MQL and handoff both after the last touch: 30 + 30 on it, 30 on the first, the 10
    # of the others to the middle one: 0.3 / 0.1 / 0.6.
    late = path(0, 1, 2, mql=5, handoff=6)
    assert split("w_shaped", late, mql=True, handoff=True)[0] == [300_000, 100_000, 600_000]
    # No MQL, no handoff: 30 on the first, 10 over the two others, scaled to 1: 3/4, 1/8, 1/8.
    assert split("w_shaped", path(0, 1, 2))[0] == [750_000, 125_000, 125_000]
    # Every touch a key touch (no others): the moments present share alike, 1/3 each.
    keys = path(0, 1, 2, mql=1, handoff=2)
    assert split("w_shaped", keys, mql=True, handoff=True)[0] == [333_334, 333_333, 333_333]
    # Only a handoff, on the middle touch: 30 / 30 and the 10 to the last, over 70.
    handed = path(0, 1, 2, handoff=1.5)
    assert split("w_shaped", handed, handoff=True)[0] == [428_572, 428_571, 142_857]


def test_time_decay_halves_the_weight_every_seven_days():
    credit, cents = split("time_decay", path(0, 7, 14), cents=700)
    # 1/4 : 1/2 : 1 of 7/4.
    assert credit == [142_857, 285_714, 571_429]
    assert cents == [100, 200, 400]


def test_every_split_adds_up_exactly_over_random_paths():
    rng = random.Random(19)
    for _ in range(2000):
        n = rng.randint(1, 7)
        mql = rng.uniform(0, 60) if rng.random() < 0.7 else None
        handoff = mql + rng.uniform(0, 20) if mql is not None and rng.random() < 0.7 else None
        touches = path(*sorted(rng.uniform(0, 90) for _ in range(n)), mql=mql, handoff=handoff)
        cents = rng.choice([0, 1, 7, 99_999, rng.randint(1, 10**11)])
        for model in a.MODEL_NAMES:
            credit, money = split(
                model, touches, cents, mql=mql is not None, handoff=handoff is not None
            )
            assert sum(credit) == a.CREDIT_SCALE and min(credit) >= 0
            assert (money is None and cents == 0) or (sum(money) == cents and min(money) >= 0)


def test_counted_touches_fall_back_to_the_first_touch_then_to_the_leads_campaign():
    counted, late = (0, 1, True, False, False), (5, 2, False, False, False)
    assert a.counted_touches([counted, late], 9) == [counted]
    assert a.counted_touches([late, late], 9) == [late]
    assert a.counted_touches([], 9) == [(0, 9, True, False, False)]


# --- hand-made leads through the statistics --------------------------------------------


def lead_with(campaigns, touch_days, *, stage=Stage.NEW, value=None, close_day=None, **stamps):
    """A lead first touched by ``campaigns[0]``, its touches on ``touch_days`` (days after
    T0) from ``campaigns`` in order; ``stamps``: day offsets of mql_at, handed_off_at,
    opportunity_at."""
    lead = factories.LeadFactory(
        campaign=campaigns[0],
        created_at=T0,
        stage=stage,
        deal_value=value,
        closed_at=None if close_day is None else T0 + close_day * D,
        **{name: T0 + day * D for name, day in stamps.items()},
    )
    for campaign, day in zip(campaigns, touch_days, strict=True):
        Touch.objects.create(
            lead=lead,
            campaign=campaign,
            inquiry_type="web_form",
            source="manual",
            occurred_at=T0 + day * D,
        )
    return lead


def by_campaign(model, filters=OCTOBER):
    data = stats.attribution(filters, model)
    return {
        (row["campaign"].name if row["campaign"] else None): (
            row["leads"],
            row["pipeline"],
            row["won_revenue"],
        )
        for row in data["campaigns"]
    }, data["totals"]


@pytest.fixture
def three(db):
    return [factories.CampaignFactory(name=name) for name in ("A", "B", "C")]


def test_each_model_on_a_won_lead_with_three_touches_and_a_touch_after_the_win(three):
    A, B, C = three
    # Touches A (day 0), B (day 2), C (day 9); MQL day 1, handoff day 3, won day 9 with
    # 1000.00; a touch from A after the win does not count.
    lead_with(
        [A, B, C, A],
        [0, 2, 9, 12],
        stage=Stage.WON,
        value=Decimal("1000.00"),
        close_day=9,
        mql_at=1,
        handed_off_at=3,
        opportunity_at=5,
    )
    stats.rebuild()
    expect = {
        "first": {"A": ("1", "1000", "1000")},
        "last": {"C": ("1", "1000", "1000")},
        "linear": {
            "A": ("0.333334", "333.34", "333.34"),
            "B": ("0.333333", "333.33", "333.33"),
            "C": ("0.333333", "333.33", "333.33"),
        },
        "u_shaped": {
            "A": ("0.4", "400", "400"),
            "B": ("0.2", "200", "200"),
            "C": ("0.4", "400", "400"),
        },
        # Creation A, MQL (day 1) -> A, handoff (day 3) -> B; C the only other: 60/30/10.
        "w_shaped": {
            "A": ("0.6", "600", "600"),
            "B": ("0.3", "300", "300"),
            "C": ("0.1", "100", "100"),
        },
        # Reference the win (day 9): 2^(-9/7) = 0.41017, 2^(-1), 1, over 1.91017.
        "time_decay": {
            "A": ("0.214729", "214.73", "214.73"),
            "B": ("0.261757", "261.76", "261.76"),
            "C": ("0.523514", "523.51", "523.51"),
        },
    }
    for model, rows in expect.items():
        got, totals = by_campaign(model)
        assert got == {k: tuple(Decimal(v) for v in vs) for k, vs in rows.items()}, model
        assert totals == {
            "leads": Decimal("1"),
            "pipeline": Decimal("1000"),
            "won_revenue": Decimal("1000"),
        }


def test_touches_without_a_campaign_credit_no_campaign_and_a_lead_without_touches_its_campaign(
    three,
):
    A, B, _c = three
    lead_with([A, None], [0, 1])  # open: both touches count
    factories.LeadFactory(campaign=B, created_at=T0)  # no touch at all
    stats.rebuild()
    got, totals = by_campaign("linear")
    assert got == {
        "A": (Decimal("0.5"), 0, 0),
        None: (Decimal("0.5"), 0, 0),
        "B": (Decimal("1"), 0, 0),
    }
    assert totals["leads"] == 2
    names = [
        row["name"]
        for row in stats.attribution_json(stats.attribution(OCTOBER, "linear"))["campaigns"]
    ]
    assert "No campaign" in names


def test_the_filters_select_the_cohort_by_first_touch_campaign(three):
    A, B, C = three
    lead_with([A, B], [0, 1], stage=Stage.WON, value=Decimal("10.00"), close_day=2)
    lead_with([B, C], [0, 1], stage=Stage.WON, value=Decimal("30.00"), close_day=2)
    stats.rebuild()
    only_a = definitions.Filters(start=OCTOBER.start, end=OCTOBER.end, campaign=A)
    got, totals = by_campaign("last", only_a)
    assert got == {"B": (1, 0, 10)}  # won, never an opportunity: no pipeline
    assert totals["won_revenue"] == Decimal("10.00")
    november = definitions.Filters(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    assert by_campaign("last", november) == (
        {},
        {"leads": 0, "pipeline": 0, "won_revenue": 0},
    )


# --- a random world: exact sums and the independent reference ---------------------------


@pytest.fixture
def random_world(db):
    rng = random.Random(7)
    campaigns = [factories.CampaignFactory(name=f"R{i}") for i in range(5)] + [None]
    reps = [factories.rep(username=f"ar{i}") for i in range(2)]
    for i in range(120):
        created = T0 + dt.timedelta(minutes=rng.randint(0, 20 * 24 * 60))
        first = rng.choice(campaigns[:-1] + [None] * (1 if i % 10 == 0 else 0))
        stage = rng.choice(
            [
                Stage.NEW,
                Stage.MQL,
                Stage.CONTACTED,
                Stage.OPPORTUNITY,
                Stage.WON,
                Stage.WON,
                Stage.LOST,
            ]
        )
        moments = sorted(created + dt.timedelta(hours=rng.uniform(0, 40 * 24)) for _ in range(4))
        mql, handed, opp, close = moments
        fields = {"mql_at": mql if stage != Stage.NEW else None}
        if stage in (Stage.CONTACTED, Stage.OPPORTUNITY, Stage.WON, Stage.LOST):
            fields.update(handed_off_at=handed, owner=rng.choice(reps))
        if stage in (Stage.OPPORTUNITY, Stage.WON) or (stage == Stage.LOST and rng.random() < 0.5):
            fields.update(opportunity_at=opp, deal_value=Decimal(rng.randint(1, 10**7)) / 100)
        if stage in (Stage.WON, Stage.LOST):
            fields["closed_at"] = close
        lead = factories.LeadFactory(
            campaign=first,
            created_at=created,
            stage=stage,
            origin=Origin.SALES if first is None else Origin.MARKETING,
            **fields,
        )
        if rng.random() < 0.1:
            continue  # no touch at all
        touches = [created] + [
            created + dt.timedelta(minutes=rng.randint(0, 50 * 24 * 60))
            for _ in range(rng.choice([0, 0, 1, 2, 3, 5]))
        ]
        if rng.random() < 0.1:
            touches.append(touches[-1])  # two touches at the same moment
        for j, at in enumerate(touches):
            Touch.objects.create(
                lead=lead,
                campaign=first if j == 0 else rng.choice(campaigns),
                inquiry_type="web_form",
                source="manual",
                occurred_at=at,
            )
    stats.rebuild()
    return {"campaigns": campaigns, "reps": reps}


@pytest.mark.parametrize("model", a.MODEL_NAMES)
def test_the_statistics_equal_the_reference_and_add_up_exactly(random_world, model):
    periods = [
        OCTOBER,
        definitions.Filters(start=dt.date(2026, 10, 10), end=dt.date(2026, 10, 15)),
        definitions.Filters(
            start=OCTOBER.start, end=OCTOBER.end, campaign=random_world["campaigns"][1]
        ),
        definitions.Filters(start=OCTOBER.start, end=OCTOBER.end, owner=random_world["reps"][0]),
        definitions.Filters(start=OCTOBER.start, end=OCTOBER.end, channel="search_ads"),
    ]
    for filters in periods:
        data = stats.attribution(filters, model)
        got = {
            (row["campaign"].pk if row["campaign"] else None): (
                row["leads"],
                row["pipeline"],
                row["won_revenue"],
            )
            for row in data["campaigns"]
        }
        assert got == reference.attribution(filters, model)
        funnel = reference.funnel(filters)
        cohort = filters.cohort()
        pipeline = sum((lead.deal_value or 0) for lead in cohort.exclude(opportunity_at=None))
        assert data["totals"] == {
            "leads": funnel["generated"],
            "pipeline": pipeline,
            "won_revenue": funnel["won_value"],
        }


def test_every_lead_of_the_random_world_splits_into_exactly_one_lead_and_its_value(
    random_world,
):
    for lead in Lead.objects.prefetch_related("touches"):
        for model in a.MODEL_NAMES:
            parts = reference.attribution_parts(model, lead)
            assert sum(c for _id, c, _m in parts) == 1_000_000
            assert sum(m for _id, _c, m in parts) == int((lead.deal_value or 0) * 100)


def test_first_touch_is_the_sourced_revenue_of_the_campaign_scorecard(random_world):
    sourced = {
        row["campaign"].pk: row["won_value"]
        for row in stats.marketing_scorecard(OCTOBER)["campaigns"]
        if row["won_value"]
    }
    first = {
        row["campaign"].pk: row["won_revenue"]
        for row in stats.attribution(OCTOBER, "first")["campaigns"]
        if row["campaign"] and row["won_revenue"]
    }
    assert first == sourced


# --- the refresh ----------------------------------------------------------------------


def test_a_new_touch_and_a_win_are_picked_up_by_the_refresh(db, make_lead, campaign):
    other = factories.CampaignFactory(name="Webinar")
    lead = make_lead(Stage.OPPORTUNITY)
    stats.rebuild()
    today = definitions.Filters.default()
    assert {
        r["campaign"]: r["leads"] for r in stats.attribution(today, "linear")["campaigns"]
    } == {campaign: 1}
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        # The same person again, through another campaign: a touch, no field changes.
        marketing.lead_intake(
            by=make_lead.marketer, data={"last_name": "x", "email": lead.email}, campaign=other
        )
        assert stats.refresh() is True
    linear = stats.attribution(today, "linear")
    assert {r["campaign"]: r["leads"] for r in linear["campaigns"]} == {
        campaign: Decimal("0.5"),
        other: Decimal("0.5"),
    }
    assert linear["totals"]["won_revenue"] == 0
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        sales.lead_win(lead=Lead.objects.get(pk=lead.pk), by=make_lead.rep, value="100.01")
        assert stats.refresh() is True
    linear = stats.attribution(today, "linear")
    assert {r["campaign"]: r["won_revenue"] for r in linear["campaigns"]} == {
        campaign: Decimal("50.01"),
        other: Decimal("50.00"),
    }
    assert stats.attribution(today, "last")["campaigns"][0]["campaign"] == other
    assert AttributionStats.objects.count() == 2  # one row per credited campaign


def test_an_imported_touch_on_an_existing_lead_marks_it_changed(db, make_lead):
    lead = make_lead(Stage.NEW)
    before = Lead.objects.get(pk=lead.pk).updated_at
    from leads.services import _save_touched

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        _save_touched([(lead, set())])
    assert Lead.objects.get(pk=lead.pk).updated_at > before


# --- the dashboard and the API --------------------------------------------------------


@pytest.fixture
def shown(three, client):
    A, B, _c = three
    lead_with(
        [A, B], [0, 1], stage=Stage.WON, value=Decimal("100.00"), close_day=3, opportunity_at=2
    )
    lead_with([A], [0])
    m = factories.marketer(username="mk")
    client.force_login(m)
    return client


PERIOD = {"start": "2026-10-01", "end": "2026-10-31"}


def test_the_dashboard_panel_shows_the_chosen_model_and_keeps_the_filters(shown):
    body = shown.get(reverse("dashboard"), {**PERIOD, "model": "linear"}).content.decode()
    assert 'id="attribution-table"' in body
    assert '<option value="linear" selected>' in body
    assert str(a.MODELS["linear"][1]) in body.replace("&#x27;", "'").replace("&rsquo;", "’")
    # The period form and the CSV links keep the model; the selector keeps the period.
    assert '<input type="hidden" name="model" value="linear">' in body
    assert "model=linear" in body
    assert '<input type="hidden" name="start" value="2026-10-01">' in body
    default = shown.get(reverse("dashboard"), PERIOD).content.decode()
    assert '<option value="first" selected>' in default


def test_the_attribution_csv_rounds_credit_to_four_places_and_money_to_two(shown):
    response = shown.get(
        reverse("dashboard_csv", args=["attribution"]), {**PERIOD, "model": "u_shaped"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["model", "campaign_id", "campaign", "leads", "pipeline", "won_revenue"]
    assert [r[2:] for r in rows[1:]] == [
        ["A", "1.5000", "50.00", "50.00"],
        ["B", "0.5000", "50.00", "50.00"],
        ["total", "2.0000", "100.00", "100.00"],
    ]
    assert {r[0] for r in rows[1:]} == {"u_shaped"}


def test_the_panel_reads_a_fixed_number_of_queries(shown, three, django_assert_max_num_queries):
    url, params = reverse("dashboard"), {**PERIOD, "model": "w_shaped"}

    def quiet(minutes):
        """Past the refresh's overlap: the page finds nothing to refresh."""
        later = timezone.now() + stats.REFRESH_OVERLAP + dt.timedelta(minutes=minutes)
        with time_machine.travel(later):
            stats.refresh()
        return time_machine.travel(later + dt.timedelta(minutes=1))

    stats.rebuild()
    with quiet(1), django_assert_max_num_queries(45) as small:
        shown.get(url, params)
    for i in range(20):
        lead_with([three[i % 3], three[(i + 1) % 3], None], [0, 1, 2])
    stats.rebuild()
    with quiet(5), django_assert_max_num_queries(len(small.captured_queries)):
        body = shown.get(url, params).content.decode()
    table = body[body.index('id="attribution-table"') :].split("</table>")[0]
    assert table.count('<tr data-campaign="') == 5  # A, B, C, no campaign, total


@pytest.mark.parametrize("model", a.MODEL_NAMES)
def test_the_api_answers_each_model(shown, model):
    body = shown.get("/api/v1/attribution/", {**PERIOD, "model": model}).json()
    assert body["model"] == model
    assert body["totals"] == {"leads": "2.000000", "pipeline": "100.00", "won_revenue": "100.00"}
    assert {row["name"] for row in body["campaigns"]} <= {"A", "B"}
    assert sum(Decimal(row["won_revenue"]) for row in body["campaigns"]) == 100
    funnel = shown.get("/api/v1/funnel/", {**PERIOD, "model": model}).json()
    assert funnel["attribution"] == body


def test_the_api_defaults_to_first_touch_and_refuses_an_unknown_model(shown, three):
    body = shown.get("/api/v1/attribution/", PERIOD).json()
    assert body["model"] == "first"
    assert body["campaigns"] == [
        {
            "campaign": three[0].pk,
            "name": "A",
            "leads": "2.000000",
            "pipeline": "100.00",
            "won_revenue": "100.00",
        }
    ]
    for url in ("/api/v1/attribution/", "/api/v1/funnel/"):
        response = shown.get(url, {"model": "full_path"})
        assert response.status_code == 400
        assert "attribution model" in response.json()["detail"]


def test_the_api_is_for_the_dashboards_readers(db, client_as_roles):
    for role, status in client_as_roles:
        assert role.get("/api/v1/attribution/").status_code == status


@pytest.fixture
def client_as_roles(db, client):
    from rest_framework.test import APIClient

    out = []
    for user, status in (
        (factories.rep(username="ap-rep"), 200),
        (factories.manager(username="ap-man"), 200),
        (factories.marketer(username="ap-mk"), 200),
        (factories.UserFactory(username="ap-none"), 403),
    ):
        api = APIClient()
        api.force_login(user)
        out.append((api, status))
    out.append((APIClient(), 401))
    return out


def test_the_schema_documents_the_endpoint_and_the_funnels_attribution(db):
    import yaml
    from django.test import Client

    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/attribution/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"start", "end", "campaign", "channel", "owner", "model"} <= names
    funnel = schema["paths"]["/api/v1/funnel/"]["get"]
    assert "model" in {p["name"] for p in funnel["parameters"]}


# --- demo data ----------------------------------------------------------------------


@pytest.fixture
def demo(db):
    from leads.demo.seeder import Seeder

    Seeder(leads=600, seed=19, password="x").run()
    stats.rebuild()


def test_demo_leads_have_touches_from_several_campaigns_until_they_close(demo):
    from django.db.models import Count, F

    touched = Lead.objects.annotate(
        n=Count("touches"), campaigns=Count("touches__campaign", distinct=True)
    )
    several = touched.filter(campaigns__gte=2).count()
    assert 0.2 * 600 < several < 0.4 * 600
    assert touched.filter(n__gte=4).exists()
    assert not Touch.objects.filter(lead__closed_at__lt=F("occurred_at")).exists()
    assert not Touch.objects.filter(lead__created_at__gt=F("occurred_at")).exists()
    # Some extra touches came before the lead's MQL or handoff.
    assert Touch.objects.filter(
        lead__mql_at__gt=F("occurred_at"), lead__created_at__lt=F("occurred_at")
    ).exists()


@pytest.mark.parametrize("model", ["linear", "w_shaped", "time_decay"])
def test_the_statistics_equal_the_reference_on_demo_data(demo, model):
    today = timezone.localdate()
    year = definitions.Filters(start=today - dt.timedelta(days=364), end=today)
    data = stats.attribution(year, model)
    got = {
        (row["campaign"].pk if row["campaign"] else None): (
            row["leads"],
            row["pipeline"],
            row["won_revenue"],
        )
        for row in data["campaigns"]
    }
    assert got == reference.attribution(year, model)
    assert data["totals"]["won_revenue"] == stats.funnel(year, with_median=False)["won_value"]
    assert len(got) > 5
