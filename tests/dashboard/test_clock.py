"""Speed to lead, court time, attempts and honesty (SPEC §5, issue 16): worked out by hand
on the small world of test_numbers.py, held equal to the reference computation from the
raw rows (tests/reference.py) on demo data, and to one from the export and the API."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from leads import services as marketing
from leads.demo.seeder import Seeder
from leads.models import Lead, SLAPolicy
from leads.reporting import definitions, stats
from sales import services as sales
from sales.models import CONNECT_OUTCOMES
from tests import factories, reference
from tests.dashboard.test_numbers import H, at, october, world  # noqa: F401 - fixture

MINUTE = dt.timedelta(minutes=1)


def clock(filters, user=None, now=None):
    stats.rebuild()
    return stats.clock_json(stats.speed_and_court(filters, user, now=now))


def keyed(data):
    """The API's lists keyed by id, as the reference gives them."""
    out = {**data, "court_time": {}, "honesty": {**data["honesty"]}}
    for side, by, key in (("marketing", "by_campaign", "campaign"), ("sales", "by_rep", "rep")):
        out["court_time"][side] = {
            **data["court_time"][side],
            by: {row[key]: row["median_minutes"] for row in data["court_time"][side][by]},
        }
    out["honesty"]["by_rep"] = {
        row["rep"]: {k: v for k, v in row.items() if k != "rep"}
        for row in data["honesty"]["by_rep"]
    }
    return out


def assert_close(api, raw, path="", *, minutes=("_minutes",)):
    """Equal, except that minutes in the API are rounded to 0.1."""
    if isinstance(raw, dict):
        assert set(api) == set(raw), path
        for key in raw:
            assert_close(api[key], raw[key], f"{path}.{key}")
    elif isinstance(raw, list):
        assert len(api) == len(raw), path
        for i, (a, r) in enumerate(zip(api, raw, strict=True)):
            assert_close(a, r, f"{path}[{i}]")
    elif isinstance(raw, float) and api is not None and "minutes" in path:
        assert api == pytest.approx(raw, abs=0.051), path
    elif isinstance(raw, float):
        assert api == pytest.approx(raw, rel=1e-9), path
    else:
        assert api == raw, path


# --- by hand -----------------------------------------------------------------------------


def test_speed_to_lead_bands_percentiles_and_shares_by_hand(world):  # noqa: F811
    """October's inquiries: every lead but L9 (sales-generated), 11 of them. Attempts from
    creation: L7 4 h (connected), L3 12 h, L5 62 h, L8 102 h; marketing handed each off
    2 h after creation; the other seven were never attempted."""
    speed = clock(october())["speed_to_lead"]
    assert speed["inquiries"] == 11
    attempt = speed["attempt"]
    assert attempt["bands"] == {
        "within_5_min": 0,
        "within_1_h": 0,
        "within_24_h": 2,
        "over_24_h": 2,
        "never": 7,
    }
    assert attempt["reached"] == 4
    assert attempt["median_minutes"] == (720 + 3720) / 2
    assert attempt["p90_minutes"] == 3720 + 0.7 * (6120 - 3720)  # PERCENTILE_CONT(0.9)
    assert attempt["marketing_share"] == {"median_minutes": 120, "p90_minutes": 120}
    assert attempt["sales_share"]["median_minutes"] == (600 + 3600) / 2
    connect = speed["connect"]
    assert connect["bands"] == {
        "within_5_min": 0,
        "within_1_h": 0,
        "within_24_h": 1,
        "over_24_h": 0,
        "never": 10,
    }
    assert connect["median_minutes"] == 240 and connect["sales_share"]["median_minutes"] == 120


def test_attempts_before_the_connect_and_unreached_after_n(world):  # noqa: F811
    data = clock(october())["attempts"]
    assert data == {
        "attempted": 4,
        "connected": 1,
        "median_before_connect": 0,  # L7's first call connected
        "unreached_after": 6,
        "unreached": 0,
        "unreached_share": 0.0,
    }


def test_the_band_edges_are_inclusive_at_five_minutes_one_hour_and_a_day(db):
    m, rep = factories.marketer(), factories.rep()
    start = timezone.now() - dt.timedelta(days=3)
    for name, delay in (
        ("five", 5 * MINUTE),
        ("past_five", 5 * MINUTE + dt.timedelta(seconds=1)),
        ("hour", 60 * MINUTE),
        ("day", 1440 * MINUTE),
        ("past_day", 1441 * MINUTE),
    ):
        with at(start):
            lead = marketing.lead_intake(
                by=m, data={"last_name": name, "email": f"{name}@x.test"}
            ).lead
            marketing.lead_qualify(lead=lead, by=m)
            marketing.lead_hand_off(lead=lead, by=m, to_user=rep)
        with at(start + delay):
            sales.activity_log(lead=lead, by=rep, kind="call", outcome="no_answer")
    data = clock(definitions.Filters.default())["speed_to_lead"]["attempt"]["bands"]
    assert data == {
        "within_5_min": 1,
        "within_1_h": 2,
        "within_24_h": 1,
        "over_24_h": 1,
        "never": 0,
    }


def test_a_contact_logged_late_counts_at_its_logging_and_against_the_reps_honesty(db):
    """A call said to be 10 minutes after the inquiry but logged two days later is a >24 h
    attempt, and one of the rep's two contacts logged late."""
    m, rep = factories.marketer(), factories.rep()
    start = timezone.now() - dt.timedelta(days=5)
    with at(start):
        lead = marketing.lead_intake(by=m, data={"last_name": "Late", "email": "l@x.test"}).lead
        marketing.lead_qualify(lead=lead, by=m)
        marketing.lead_hand_off(lead=lead, by=m, to_user=rep)
    with at(start + dt.timedelta(days=2)):
        sales.activity_log(
            lead=lead, by=rep, kind="call", outcome="connected", occurred_at=start + 10 * MINUTE
        )
    with at(start + dt.timedelta(days=2, minutes=5)):
        sales.activity_log(lead=lead, by=rep, kind="email")
        sales.activity_log(lead=lead, by=rep, kind="note")  # not a contact
    data = clock(definitions.Filters.default())
    assert data["speed_to_lead"]["attempt"]["bands"]["over_24_h"] == 1
    assert data["speed_to_lead"]["attempt"]["median_minutes"] == 2 * 1440
    assert data["honesty"] == {
        "contacts": 2,
        "logged_late": 1,
        "late_share": 0.5,
        "by_rep": [{"rep": rep.pk, "contacts": 2, "logged_late": 1, "late_share": 0.5}],
    }


def test_unreached_after_n_attempts_follows_the_policy(db):
    m, rep = factories.marketer(), factories.rep()
    start = timezone.now() - dt.timedelta(days=5)
    with at(start):
        lead = marketing.lead_intake(by=m, data={"last_name": "Gone", "email": "g@x.test"}).lead
        marketing.lead_qualify(lead=lead, by=m)
        marketing.lead_hand_off(lead=lead, by=m, to_user=rep)
    for i in range(3):
        with at(start + (i + 1) * H):
            sales.activity_log(lead=lead, by=rep, kind="call", outcome="no_answer")
    assert clock(definitions.Filters.default())["attempts"]["unreached"] == 0
    SLAPolicy.objects.filter(is_global=True).update(unreached_attempts=3)
    data = clock(definitions.Filters.default())["attempts"]
    assert (data["unreached_after"], data["unreached"], data["unreached_share"]) == (3, 1, 1.0)


def test_court_time_medians_per_campaign_and_rep_and_who_holds_longest(world):  # noqa: F811
    """Marketing held each handed-off lead 2 h; L1 (new) and L2 (mql) it holds still, since
    10 October 09:00 and L11 since 31 October 23:30 (all counted up to 'now')."""
    now = dt.datetime(2026, 11, 5, 12, 0, tzinfo=dt.UTC)
    manager = factories.manager()
    data = clock(october(), manager, now=now)["court_time"]
    leads = world["leads"]
    held = data["marketing"]["held_longest"]
    assert [row["lead"] for row in held[:3]] == [leads["L1"].pk, leads["L2"].pk, leads["L4"].pk]
    assert held[0]["minutes"] == leads["L1"].court_time(now)["marketing"]
    assert {row["lead"] for row in held} == {
        leads[n].pk for n in ("L1", "L2", "L4", "L11")
    }  # L4 was rejected back to marketing
    by_campaign = {
        row["campaign"]: row["median_minutes"] for row in data["marketing"]["by_campaign"]
    }
    assert by_campaign[world["b"].pk] == 120  # L5 L6 L7 L12: two hours each
    sales_held = {row["lead"] for row in data["sales"]["held_longest"]}
    assert sales_held == {leads[n].pk for n in ("L3", "L5", "L12", "L13")} - {leads["L3"].pk}
    by_rep = {row["rep"]: row["median_minutes"] for row in data["sales"]["by_rep"]}
    assert set(by_rep) == {world["r1"].pk, world["r2"].pk}


def test_held_longest_lists_only_leads_the_rep_may_open(world):  # noqa: F811
    data = clock(october(), world["r1"])["court_time"]
    mine = set(Lead.objects.for_user(world["r1"]).values_list("pk", flat=True))
    assert data["marketing"]["held_longest"] == []  # a rep sees no lead with marketing
    assert {row["lead"] for row in data["sales"]["held_longest"]} <= mine
    assert data["sales"]["held_longest"]


# --- against the reference ---------------------------------------------------------------


@pytest.fixture
def demo(db):
    Seeder(leads=1500, seed=11, password="x").run()
    stats.rebuild()


@pytest.mark.parametrize("which", ["default", "year", "campaign", "owner", "channel"])
def test_the_new_numbers_equal_the_reference_from_the_raw_rows(demo, which):
    today = timezone.localdate()
    year = definitions.Filters(start=today - dt.timedelta(days=364), end=today)
    lead = Lead.objects.exclude(owner=None).exclude(campaign=None).order_by("pk").first()
    filters = {
        "default": definitions.Filters.default(),
        "year": year,
        "campaign": definitions.Filters(start=year.start, end=today, campaign=lead.campaign),
        "owner": definitions.Filters(start=year.start, end=today, owner=lead.owner),
        "channel": definitions.Filters(start=year.start, end=today, channel=lead.campaign.channel),
    }[which]
    manager = get_user_model().objects.get(username="manager")
    now = timezone.now()
    api = keyed(stats.clock_json(stats.speed_and_court(filters, manager, now=now)))
    raw = reference.clock(filters, now, user=manager)
    assert raw["speed_to_lead"]["attempt"]["reached"] > 0
    assert_close(api, raw)


def test_the_dashboard_equals_a_computation_from_the_export_and_the_api(db, client):
    """The issue's "done when": every new number of /api/v1/funnel/ worked out from the
    lead export (timestamps, court minutes) and the activities API (attempts before the
    first connect, logged late), as an outside analyst would."""
    Seeder(leads=250, seed=5, password="x").run()
    manager = get_user_model().objects.get(username="manager")
    client.force_login(manager)
    filters = definitions.Filters.default()
    query = f"start={filters.start.isoformat()}&end={filters.end.isoformat()}"
    with time_machine.travel(timezone.now(), tick=False):
        body = b"".join(
            client.get(f"/leads/export.csv?created_from={filters.start}&created_to={filters.end}")
        ).decode()
        funnel = client.get(f"/api/v1/funnel/?{query}").json()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows
    parse = lambda v: dt.datetime.fromisoformat(v) if v else None  # noqa: E731
    users = {u.username: u.pk for u in get_user_model().objects.all()}
    campaigns = {}
    leads, activities = [], []
    for row in rows:
        lead_id = int(row["id"])
        answer = client.get(f"/api/v1/leads/{lead_id}/activities/").json()
        logged = answer["results"] if isinstance(answer, dict) else answer
        corrected = {a["corrects"] for a in logged if a["corrects"]}
        live = [a for a in logged if a["id"] not in corrected]
        before = 0
        for activity in sorted(live, key=lambda a: (parse(a["counts_at"]), a["id"])):
            if activity["kind"] not in reference.CONTACTS:
                continue
            if activity["outcome"] in CONNECT_OUTCOMES:
                break
            before += 1
        activities += [
            {
                "user": a["user"],
                "kind": a["kind"],
                "live": a["id"] not in corrected,
                "logged_late": a["logged_late"],
            }
            for a in logged
        ]
        if row["campaign"] and row["campaign"] not in campaigns:
            campaigns[row["campaign"]] = Lead.objects.get(pk=lead_id).campaign_id
        leads.append(
            {
                "id": lead_id,
                "origin": row["origin"],
                "created_at": parse(row["created_at"]),
                "handed_off_at": parse(row["handed_off_at"]),
                "first_contact_at": parse(row["first_contact_at"]),
                "first_connect_at": parse(row["first_connect_at"]),
                "attempts_before_connect": before,
                "marketing_minutes": int(row["marketing_court_minutes"]),
                "sales_minutes": int(row["sales_court_minutes"]),
                "stage": row["stage"],
                "campaign": campaigns.get(row["campaign"]),
                "owner": users.get(row["owner"]),
            }
        )
    raw = reference.clock_from_rows(
        leads, activities, SLAPolicy.objects.get(is_global=True).unreached_attempts
    )
    api = keyed(
        {key: funnel[key] for key in ("speed_to_lead", "court_time", "attempts", "honesty")}
    )
    assert raw["honesty"]["contacts"] > 0
    assert_close(api, raw)
