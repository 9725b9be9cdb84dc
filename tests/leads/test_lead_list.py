import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Flag, Lead, Stage
from leads.services import lead_intake
from tests import factories

LIST = reverse("leads:list")


def ids(response):
    return [lead.pk for lead in response.context["leads"]]


def test_anonymous_goes_to_login_and_roleless_user_is_refused(client, db):
    assert client.get(LIST).status_code == 302
    client.force_login(factories.UserFactory())
    assert client.get(LIST).status_code == 403


def test_rep_sees_own_leads_and_the_queue_only(rep_client, make_lead, other_rep):
    mine = make_lead(Stage.ACCEPTED)
    queued = make_lead(Stage.HANDED_OFF, owner=None)
    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    marketing_only = make_lead(Stage.MQL)
    shown = ids(rep_client.get(LIST))
    assert set(shown) == {mine.pk, queued.pk}
    assert theirs.pk not in shown and marketing_only.pk not in shown


def test_marketer_sees_every_lead_newest_first(marketer_client, make_lead):
    leads = [make_lead(Stage.NEW) for _ in range(3)]
    assert ids(marketer_client.get(LIST)) == [lead.pk for lead in reversed(leads)]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("stage=won", {"won"}),
        ("stage=won&stage=mql", {"won", "mql"}),
        ("origin=sales", {"sales"}),
        ("owner=none", {"mql", "new"}),
        ("q=HOPPER", {"hopper"}),
        ("q=acme", {"hopper"}),
        ("q=grace.h@", {"hopper"}),
        # A full name, in either order, and a name with the company.
        ("q=Grace+Hopper", {"hopper"}),
        ("q=hopper++grace", {"hopper"}),
        ("q=grace+acme", {"hopper"}),
        ("q=Grace+Lovelace", set()),
    ],
)
def test_filters_select_exactly_the_matching_leads(
    marketer_client, make_lead, rep, query, expected
):
    won = make_lead(Stage.WON)
    mql = make_lead(Stage.MQL)
    new = make_lead(
        Stage.NEW,
        first_name="Grace",
        last_name="Hopper",
        company="ACME",
        email="grace.h@acme.test",
    )
    sales_lead = lead_intake(by=rep, data={"last_name": "Found", "email": "f@x.test"}).lead
    names = {won.pk: "won", mql.pk: "mql", new.pk: "new", sales_lead.pk: "sales"}
    if "q=" in query:
        names[new.pk] = "hopper"
    shown = {names[pk] for pk in ids(marketer_client.get(f"{LIST}?{query}"))}
    assert shown == expected


def test_owner_campaign_and_channel_filters(marketer_client, make_lead, rep, other_rep):
    a = make_lead(Stage.ACCEPTED)
    b = make_lead(Stage.ACCEPTED, owner=other_rep)
    social = factories.CampaignFactory(channel="social_ads")
    c = factories.LeadFactory(campaign=social)
    assert ids(marketer_client.get(f"{LIST}?owner={rep.pk}")) == [a.pk]
    assert ids(marketer_client.get(f"{LIST}?owner={other_rep.pk}")) == [b.pk]
    assert ids(marketer_client.get(f"{LIST}?campaign={social.pk}")) == [c.pk]
    assert ids(marketer_client.get(f"{LIST}?channel=social_ads")) == [c.pk]


def test_open_flag_filter_by_kind_and_any(marketer_client, make_lead):
    flagged = make_lead(Stage.MQL)
    resolved = make_lead(Stage.MQL)
    make_lead(Stage.MQL)
    now = timezone.now()
    Flag.objects.create(lead=flagged, kind="mql_waiting", side="marketing", raised_at=now)
    Flag.objects.create(
        lead=resolved, kind="mql_waiting", side="marketing", raised_at=now, resolved_at=now
    )
    assert ids(marketer_client.get(f"{LIST}?flag=mql_waiting")) == [flagged.pk]
    assert ids(marketer_client.get(f"{LIST}?flag=any")) == [flagged.pk]
    assert ids(marketer_client.get(f"{LIST}?flag=stalled")) == []


def test_created_range_is_whole_local_days(marketer_client, make_lead, settings):
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    late = make_lead(Stage.NEW)
    late.created_at = dt.datetime(2026, 3, 31, 23, 30, tzinfo=tz)  # 21:30 UTC
    late.save()
    early = make_lead(Stage.NEW)
    early.created_at = dt.datetime(2026, 4, 1, 0, 10, tzinfo=tz)
    early.save()
    response = marketer_client.get(f"{LIST}?created_from=2026-03-01&created_to=2026-03-31")
    assert ids(response) == [late.pk]
    response = marketer_client.get(f"{LIST}?created_from=2026-04-01&created_to=2026-04-01")
    assert ids(response) == [early.pk]


@pytest.mark.parametrize(
    "query",
    [
        "stage=bogus",
        "created_from=2026-13-45",
        "created_from=2026-05-01&created_to=2026-04-01",
        "campaign=999999",
        "owner=robert'); DROP TABLE",
        "sort=password",
        "flag=nope",
    ],
)
def test_bad_filter_values_are_reported_not_a_500(marketer_client, make_lead, query):
    make_lead(Stage.NEW)
    response = marketer_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert ids(response) == []
    assert "alert-danger" in response.content.decode()


def test_sort_by_name(marketer_client, make_lead):
    make_lead(Stage.NEW, last_name="Zeta")
    make_lead(Stage.NEW, last_name="Alpha")
    names = [lead.last_name for lead in marketer_client.get(f"{LIST}?sort=name").context["leads"]]
    assert names == ["Alpha", "Zeta"]


@pytest.mark.parametrize("sort", ["-created", "created", "name", "-name", "company", "stage"])
def test_keyset_pages_walk_every_lead_once_both_ways(marketer_client, monkeypatch, sort):
    from leads import views

    monkeypatch.setattr(views, "PER_PAGE", 4)
    campaign = factories.CampaignFactory()
    same_time = timezone.now()
    for i in range(11):
        # Ties on the sort key (same time, same names) must not skip or repeat leads.
        factories.LeadFactory(
            campaign=campaign, last_name=f"N{i % 3}", company=f"C{i % 2}", created_at=same_time
        )
    seen, pages, url = [], [], f"{LIST}?sort={sort}"
    while url:
        response = marketer_client.get(url)
        page = response.context["page"]
        pages.append(ids(response))
        seen += ids(response)
        cursor = page.next_cursor()
        url = f"{LIST}?sort={sort}&cursor={cursor}" if cursor else None
    assert sorted(seen) == sorted(Lead.objects.values_list("pk", flat=True))
    assert len(seen) == 11 and len(pages) == 3
    # ...and back from the last page to the first.
    response = marketer_client.get(f"{LIST}?sort={sort}&cursor={page.previous_cursor()}")
    assert ids(response) == pages[1]


def test_a_broken_cursor_shows_the_first_page_with_a_warning(marketer_client, make_lead):
    lead = make_lead(Stage.NEW)
    response = marketer_client.get(f"{LIST}?cursor=not-base64!!")
    assert response.status_code == 200 and ids(response) == [lead.pk]
    assert "not valid" in response.content.decode()


def test_count_is_capped_for_huge_filters(marketer_client, make_lead, monkeypatch):
    from leads import filters

    monkeypatch.setattr(filters, "COUNT_CAP", 2)
    for _ in range(4):
        make_lead(Stage.NEW)
    response = marketer_client.get(LIST)
    assert response.context["total"] == 2 and response.context["total_capped"]
    assert "2+ leads" in response.content.decode()


@pytest.mark.parametrize("n", [5, 60])
def test_list_query_count_does_not_grow_with_leads(
    marketer_client, rep_client, rep, n, django_assert_max_num_queries
):
    campaign = factories.CampaignFactory()
    leads = [
        factories.LeadFactory(campaign=campaign, owner=rep, stage="accepted") for _ in range(n)
    ]
    now = timezone.now()
    for lead in leads[:10]:
        Flag.objects.create(lead=lead, kind="stalled", side="sales", raised_at=now)
    for client in (marketer_client, rep_client):
        for query in ("", "?stage=accepted&flag=any", f"?campaign={campaign.pk}&q=a"):
            # 10, and one for the saved views' pills.
            with django_assert_max_num_queries(11):
                assert client.get(LIST + query).status_code == 200


@pytest.mark.parametrize(
    "values",
    [
        [{"t": "2026-01-01T00:00:00+00:00"}, "not-an-id"],
        ["yesterday", 5],
        [{"t": "2026-01-01T00:00:00"}, 5],
        [{"t": "2026-01-01T00:00:00+00:00"}, 2**70],
        [{"t": "2026-01-01T00:00:00+00:00"}, True],
        [{"d": "x"}, 1],
    ],
)
def test_hand_crafted_cursors_of_the_wrong_types_are_refused(marketer_client, make_lead, values):
    import base64
    import json

    lead = make_lead(Stage.NEW)
    token = base64.urlsafe_b64encode(json.dumps({"v": values, "d": "next"}).encode()).decode()
    response = marketer_client.get(f"{LIST}?cursor={token}")
    assert response.status_code == 200
    assert ids(response) == [lead.pk] and "not valid" in response.content.decode()


def test_reps_are_named_as_on_the_lead_page_and_the_dashboard(marketer_client, make_lead, rep):
    """The owner column, the owner filter and the bulk hand-off list show the rep's full
    name (as the hand-off form and the dashboard do), not the username."""
    rep.first_name, rep.last_name = "Ruben", "de Vries"
    rep.save()
    make_lead(Stage.ACCEPTED)
    body = marketer_client.get(LIST).content.decode()
    assert body.count(">Ruben de Vries<") >= 3
    assert f">{rep.username}<" not in body


# --- the moment filters the rep's Today links set ---------------------------------------


def _filter_bar(body):
    """The filter form of the list page (the first form with method get)."""
    start = body.index('<form method="get"')
    return body[start : body.index("</form>", start)]


def test_moments_without_a_control_are_kept_as_hidden_inputs_when_the_list_is_refined(
    rep_client, make_lead
):
    # Today's "missed" link: due from the start of today until now, times of day.
    after, before = "2026-12-02T00:00:00+01:00", "2026-12-02T14:05:00+01:00"
    response = rep_client.get(
        LIST, {"owner": "me", "follow_up_after": after, "follow_up_before": before}
    )
    bar = _filter_bar(response.content.decode())
    assert f'<input type="hidden" name="follow_up_after" value="{after}">' in bar
    assert f'<input type="hidden" name="follow_up_before" value="{before}">' in bar
    # No empty date control of the same name to override the kept moment.
    assert 'type="date" name="follow_up_before"' not in bar
    assert "Follow-up due from:" in bar and "Follow-up due before:" in bar


def test_a_kept_moment_chip_links_to_the_list_without_it(rep_client):
    response = rep_client.get(
        LIST, {"owner": "me", "queue_since": "2026-12-01T09:30:00+01:00", "q": "smit"}
    )
    ((name, _label, _moment, _raw, remove_url),) = response.context["kept_moments"]
    assert name == "queue_since"
    assert remove_url == f"{LIST}?owner=me&q=smit"


def test_a_due_before_at_local_midnight_shows_in_the_date_control(rep_client):
    # Today's backlog link: due before the start of today (the site's midnight).
    response = rep_client.get(LIST, {"follow_up_before": "2026-12-02T00:00:00+01:00"})
    bar = _filter_bar(response.content.decode())
    assert 'type="date" name="follow_up_before" id="id_follow_up_before"' in bar
    assert 'value="2026-12-02"' in bar
    assert 'type="hidden" name="follow_up_before"' not in bar
    assert response.context["kept_moments"] == []


def test_a_repeated_single_value_filter_is_an_error_not_its_last_value(marketer_client):
    one, two = factories.CampaignFactory(), factories.CampaignFactory()
    factories.LeadFactory(campaign=one)
    factories.LeadFactory(campaign=two)
    response = marketer_client.get(f"{LIST}?campaign={one.pk}&campaign={two.pk}")
    assert response.status_code == 200
    assert list(response.context["leads"]) == []
    assert "Campaign: Choose one value, not several." in response.content.decode()
    # A stage is a list: several are one filter.
    both = marketer_client.get(f"{LIST}?stage=new&stage=mql")
    assert not both.context["form"].errors
