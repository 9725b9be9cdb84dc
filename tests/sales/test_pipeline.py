"""The pipeline (issue 21 item 5): probabilities, the board and its moves, the forecast on
the page and in the API, who sees whose."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from leadflow.errors import InvalidInput, TransitionNotAllowed
from leadflow.names import person
from leadflow.services import api_token_create
from leads.models import PIPELINE_PROBABILITY, Lead, Stage, StageChange
from sales import services
from sales.models import Team, TeamMembership
from sales.pipeline import BOARD_LIMIT

# Mid-March 2026 in the site's time zone; the forecast reads March and April.
NOW = dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC)
MARCH, APRIL = dt.date(2026, 3, 20), dt.date(2026, 4, 15)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


# --- probability and close date ---------------------------------------------------------


def test_an_opportunity_takes_the_stage_default_probability(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    services.lead_to_opportunity(lead=lead, by=rep, value="100")
    lead.refresh_from_db()
    assert lead.probability == PIPELINE_PROBABILITY[Stage.OPPORTUNITY] == 50
    assert lead.expected_close_on is None


def test_probability_and_close_date_are_set_when_moving_and_editing(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    services.lead_to_opportunity(
        lead=lead, by=rep, value="100", probability="70", expected_close_on=APRIL
    )
    lead.refresh_from_db()
    assert (lead.probability, lead.expected_close_on) == (70, APRIL)
    services.opportunity_update(lead=lead, by=rep, probability=0, expected_close_on=MARCH)
    lead.refresh_from_db()
    assert (lead.probability, lead.expected_close_on, lead.deal_value) == (
        0,
        MARCH,
        Decimal("100.00"),
    )


@pytest.mark.parametrize("bad", ["101", "-1", "12.5", "lots"])
def test_a_probability_outside_0_to_100_is_refused_and_nothing_moves(make_lead, rep, bad):
    lead = make_lead(Stage.CONTACTED)
    with pytest.raises(InvalidInput) as excinfo:
        services.lead_to_opportunity(lead=lead, by=rep, probability=bad)
    assert excinfo.value.field == "probability"
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_the_edit_form_says_what_is_wrong_with_a_probability(make_lead, rep, rep_client):
    lead = make_lead(Stage.OPPORTUNITY)
    response = rep_client.post(
        reverse("sales:edit_opportunity", args=[lead.pk]), {"probability": "150"}
    )
    assert response.status_code == 200
    assert "Enter a probability from 0 to 100." in response.content.decode()
    lead.refresh_from_db()
    assert lead.probability == 50


# --- the board --------------------------------------------------------------------------


def test_the_board_shows_a_reps_open_leads_by_stage(make_lead, rep, other_rep, rep_client):
    accepted = make_lead(Stage.ACCEPTED)
    contacted = make_lead(Stage.CONTACTED)
    opportunity = make_lead(Stage.OPPORTUNITY)
    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    response = rep_client.get(reverse("sales:board"))
    columns = {c.stage: [lead.pk for lead in c.leads] for c in response.context["columns"]}
    assert columns == {
        Stage.ACCEPTED: [accepted.pk],
        Stage.CONTACTED: [contacted.pk],
        Stage.OPPORTUNITY: [opportunity.pk],
    }
    assert f'id="card-{theirs.pk}"' not in response.content.decode()


def test_a_board_column_is_cut_at_its_limit_and_counts_the_rest(
    make_lead, rep, rep_client, django_assert_max_num_queries
):
    leads = [make_lead(Stage.ACCEPTED) for _ in range(BOARD_LIMIT + 2)]
    with django_assert_max_num_queries(12):
        response = rep_client.get(reverse("sales:board"))
    accepted = response.context["columns"][0]
    assert len(accepted.leads) == BOARD_LIMIT
    assert accepted.count == BOARD_LIMIT + 2 and accepted.more == 2
    assert accepted.leads[0].pk == leads[-1].pk  # newest first


def test_a_columns_more_links_to_the_lead_list_of_its_leads(
    make_lead, rep, other_rep, rep_client, manager_client
):
    for _ in range(BOARD_LIMIT + 2):
        make_lead(Stage.ACCEPTED)
    make_lead(Stage.CONTACTED)
    make_lead(Stage.ACCEPTED, owner=other_rep)
    column = rep_client.get(reverse("sales:board")).context["columns"][0]
    assert column.more_url == f"{reverse('leads:list')}?owner=me&stage=accepted"
    assert f'<a href="{column.more_url.replace("&", "&amp;")}">and 2 more</a>' in (
        rep_client.get(reverse("sales:board")).content.decode()
    )
    assert rep_client.get(column.more_url).context["total"] == BOARD_LIMIT + 2
    # A manager looking at rep1's board gets rep1's list; a team's board has no such list.
    theirs = manager_client.get(reverse("sales:board"), {"owner": rep.pk}).context["columns"]
    assert theirs[0].more_url == f"{reverse('leads:list')}?owner={rep.pk}&stage=accepted"
    assert manager_client.get(theirs[0].more_url).context["total"] == BOARD_LIMIT + 2
    team = Team.objects.create(name="North")
    TeamMembership.objects.create(team=team, user=rep)
    teams = manager_client.get(reverse("sales:board"), {"team": team.pk})
    assert teams.context["columns"][0].more_url is None
    assert "and 2 more" in teams.content.decode()


def test_the_move_menu_offers_only_the_lifecycles_moves_forward_under_a_blank_default(
    make_lead, rep, rep_client, manager_client
):
    accepted = make_lead(Stage.ACCEPTED)
    contacted = make_lead(Stage.CONTACTED)
    opportunity = make_lead(Stage.OPPORTUNITY)
    for client, params in ((rep_client, {}), (manager_client, {"owner": rep.pk})):
        response = client.get(reverse("sales:board"), params)
        moves = {lead.pk: lead.moves for c in response.context["columns"] for lead in c.leads}
        assert moves == {
            accepted.pk: [(Stage.CONTACTED, "Contacted")],
            contacted.pk: [(Stage.OPPORTUNITY, "Opportunity")],
            opportunity.pk: [],
        }
        page = response.content.decode()
        card = page.split(f'id="card-{accepted.pk}"')[1].split("</li>")[0]
        options = card.split("<select")[1].split("</select>")[0]
        assert options.index('<option value="" selected>Move to…</option>') < options.index(
            'value="contacted"'
        )
        assert 'value="accepted"' not in options and 'value="opportunity"' not in options
        card = page.split(f'id="card-{opportunity.pk}"')[1].split("</li>")[0]
        assert "<select" not in card  # nowhere to go on the board: won or lost, below


def test_a_manager_chooses_whose_board(make_lead, rep, other_rep, manager_client):
    make_lead(Stage.ACCEPTED)
    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    assert manager_client.get(reverse("sales:board")).context["columns"] == []
    response = manager_client.get(reverse("sales:board"), {"owner": other_rep.pk})
    assert [lead.pk for lead in response.context["columns"][0].leads] == [theirs.pk]
    team = Team.objects.create(name="North")
    TeamMembership.objects.create(team=team, user=rep)
    response = manager_client.get(reverse("sales:board"), {"team": team.pk})
    assert theirs.pk not in [lead.pk for lead in response.context["columns"][0].leads]


def test_a_rep_cannot_see_another_reps_board(other_rep, rep_client):
    response = rep_client.get(reverse("sales:board"), {"owner": other_rep.pk})
    assert response.status_code == 403


def test_moving_a_card_to_opportunity_calls_the_service(make_lead, rep, rep_client):
    lead = make_lead(Stage.CONTACTED)
    response = rep_client.post(
        reverse("sales:board_move", args=[lead.pk]), {"to": "opportunity"}, follow=True
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.OPPORTUNITY
    assert lead.probability == 50
    assert StageChange.objects.filter(lead=lead, to_stage="opportunity").count() == 1
    assert response.redirect_chain[-1][0] == reverse("sales:board")


def test_a_forbidden_move_is_refused_with_the_services_reason(make_lead, rep, rep_client):
    lead = make_lead(Stage.ACCEPTED)
    url = reverse("sales:board_move", args=[lead.pk])
    response = rep_client.post(url, {"to": "opportunity"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    with pytest.raises(TransitionNotAllowed) as expected:
        services.lead_to_opportunity(lead=lead, by=rep)
    assert response.json()["detail"] == str(expected.value.message)
    page = rep_client.post(url, {"to": "opportunity"}, follow=True).content.decode()
    assert "Cannot make an opportunity of this lead" in page
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED


def test_moving_an_opportunity_back_to_accepted_says_it_cannot_go_back(make_lead, rep, rep_client):
    lead = make_lead(Stage.OPPORTUNITY)
    url = reverse("sales:board_move", args=[lead.pk])
    response = rep_client.post(url, {"to": "accepted"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json()["detail"] == "A lead cannot go from Opportunity to Accepted."
    # The service decides, and says the same to anyone asking it.
    with pytest.raises(TransitionNotAllowed) as expected:
        services.lead_accept(lead=lead, by=rep)
    assert response.json()["detail"] == str(expected.value.message)
    page = rep_client.post(url, {"to": "accepted"}, follow=True).content.decode()
    assert "A lead cannot go from Opportunity to Accepted." in page
    assert "already accepted" not in page
    lead.refresh_from_db()
    assert lead.stage == Stage.OPPORTUNITY


def test_a_move_says_it_succeeded_with_and_without_the_script(make_lead, rep, rep_client):
    plain = make_lead(Stage.CONTACTED)
    response = rep_client.post(
        reverse("sales:board_move", args=[plain.pk]), {"to": "opportunity"}, follow=True
    )
    assert f"{plain} is now an opportunity." in response.content.decode()
    scripted = make_lead(Stage.CONTACTED)
    answer = rep_client.post(
        reverse("sales:board_move", args=[scripted.pk]),
        {"to": "opportunity"},
        HTTP_ACCEPT="application/json",
    )
    assert answer.json() == {
        "detail": f"{scripted} is now an opportunity.",
        "stage": "opportunity",
    }
    # The script reloads the board, which says so.
    assert (
        f"{scripted} is now an opportunity."
        in rep_client.get(reverse("sales:board")).content.decode()
    )


def test_the_board_shows_money_and_names_as_people_read_them(make_lead, rep, manager_client):
    lead = make_lead(Stage.CONTACTED)
    services.lead_to_opportunity(lead=lead, by=rep, value="68250")
    page = manager_client.get(reverse("sales:board"), {"owner": rep.pk}).content.decode()
    card = page.split(f'id="card-{lead.pk}"')[1].split("</li>")[0]
    assert "€68,250.00" in card and "68250.00" not in card
    assert person(rep) in card


def test_moving_to_contacted_goes_to_the_log_form(make_lead, rep, rep_client):
    lead = make_lead(Stage.ACCEPTED)
    response = rep_client.post(reverse("sales:board_move", args=[lead.pk]), {"to": "contacted"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("sales:log", args=[lead.pk]))
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED


def test_a_rep_cannot_move_another_reps_card(make_lead, other_rep, rep_client):
    lead = make_lead(Stage.CONTACTED, owner=other_rep)
    response = rep_client.post(reverse("sales:board_move", args=[lead.pk]), {"to": "opportunity"})
    assert response.status_code == 404
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_the_board_marks_a_slipped_close_date(make_lead, rep, rep_client):
    lead = make_lead(Stage.OPPORTUNITY)
    services.opportunity_update(lead=lead, by=rep, expected_close_on=dt.date(2020, 1, 1))
    page = rep_client.get(reverse("sales:board")).content.decode()
    card = page.split(f'id="card-{lead.pk}"')[1].split("</li>")[0]
    assert "close date passed" in card


# --- the forecast -----------------------------------------------------------------------


@pytest.fixture
def book(clock, make_lead, rep, other_rep):
    """Two reps, two months: rep1 has 1000 @ 50% and 3000 @ 20% closing in March and
    2000 @ 75% in April, and won 500 in March; rep2 has 4000 @ 50% (default) in April.
    A lost deal and an open one outside the months count nowhere."""

    def opp(owner, value, close, probability=None):
        lead = make_lead(Stage.CONTACTED, owner=owner)
        services.lead_to_opportunity(
            lead=lead, by=owner, value=value, expected_close_on=close, probability=probability
        )
        return lead

    opp(rep, "1000", MARCH, 50)
    opp(rep, "3000", MARCH, 20)
    opp(rep, "2000", APRIL, 75)
    opp(other_rep, "4000", APRIL)
    opp(other_rep, "9999", dt.date(2026, 6, 1))
    services.lead_win(lead=opp(rep, "400", MARCH), by=rep, value="500")
    services.lead_lose(lead=opp(rep, "800", MARCH), by=rep, reason="price")


def _row(rows, key, value):
    return next(r for r in rows if r[key] == value)


def _cells(rows, key, value):
    return {c["month"]: c for c in _row(rows, key, value)["months"]}


def test_the_forecast_by_hand(book, manager, rep, other_rep):
    from sales.pipeline import forecast, month_range

    result = forecast(None, month_range(dt.date(2026, 3, 1), dt.date(2026, 4, 1)))
    assert result["months"] == ["2026-03", "2026-04"]
    rep1 = _cells(result["reps"], "username", "rep1")
    assert rep1["2026-03"] == {
        "month": "2026-03",
        "start": dt.date(2026, 3, 1),
        "count": 2,
        "value": Decimal("4000.00"),
        "weighted": Decimal("1100.00"),  # 500 + 600
        "won": 1,
        "won_value": Decimal("500.00"),
    }
    assert (rep1["2026-04"]["count"], rep1["2026-04"]["weighted"]) == (1, Decimal("1500.00"))
    rep2 = _cells(result["reps"], "username", "rep2")
    assert (rep2["2026-04"]["value"], rep2["2026-04"]["weighted"]) == (
        Decimal("4000.00"),
        Decimal("2000.00"),
    )
    assert rep2["2026-03"]["count"] == 0
    totals = {c["month"]: c for c in result["totals"]["months"]}
    assert totals["2026-04"]["weighted"] == Decimal("3500.00")
    assert totals["2026-03"]["won_value"] == Decimal("500.00")
    # rep2's June deal is outside the months, still in the pipeline's total.
    assert _row(result["reps"], "username", "rep2")["other_months"]["count"] == 1
    assert result["totals"]["total"]["count"] == 5
    assert result["totals"]["total"]["weighted"] == Decimal("9599.50")  # 1100 + 3500 + 4999.50


def test_the_forecast_page_shows_the_weighted_values(book, manager_client):
    page = manager_client.get(
        reverse("sales:forecast"), {"months_from": "2026-03", "months_to": "2026-04"}
    ).content.decode()
    row = page.split('data-owner="rep1" data-team="" data-month="2026-03"')[1].split("</tr>")[0]
    assert ">March 2026<" in row
    assert '"weighted">€1,100.00<' in row
    assert '"won_value">€500.00<' in row


def test_a_rep_sees_only_their_own_forecast(book, rep, other_rep, rep_client):
    response = rep_client.get(reverse("sales:forecast"), {"months_from": "2026-03"})
    assert [r["username"] for r in response.context["forecast"]["reps"]] == ["rep1"]
    assert "teams" not in response.context["forecast"]
    assert rep_client.get(reverse("sales:forecast"), {"owner": other_rep.pk}).status_code == 403


def test_managers_see_the_forecast_per_team(book, rep, other_rep, manager_client):
    north = Team.objects.create(name="North")
    TeamMembership.objects.create(team=north, user=other_rep)
    response = manager_client.get(
        reverse("sales:forecast"), {"months_from": "2026-03", "team": north.pk}
    )
    data = response.context["forecast"]
    assert [r["username"] for r in data["reps"]] == ["rep2"]
    assert _cells(data["teams"], "name", "North")["2026-04"]["weighted"] == Decimal("2000.00")


def _api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
    return client


def test_the_forecast_api_serves_the_same_numbers_as_strings(book, manager, rep):
    response = _api(manager).get(
        "/api/v1/forecast/", {"months_from": "2026-03", "months_to": "2026-04"}
    )
    assert response.status_code == 200
    body = response.json()
    rep1 = _cells(body["reps"], "username", "rep1")
    assert rep1["2026-03"]["weighted"] == "1100.00"
    assert rep1["2026-03"]["value"] == "4000.00"
    assert rep1["2026-03"]["won_value"] == "500.00"
    assert {c["month"]: c["weighted"] for c in body["totals"]["months"]} == {
        "2026-03": "1100.00",
        "2026-04": "3500.00",
    }
    assert body["totals"]["other_months"] == {
        "count": 1,
        "value": "9999.00",
        "weighted": "4999.50",
    }
    only = _api(manager).get("/api/v1/forecast/", {"months_from": "2026-03", "owner": rep.pk})
    assert [r["username"] for r in only.json()["reps"]] == ["rep1"]


def test_the_forecast_api_keeps_a_rep_to_their_own(book, rep, other_rep):
    client = _api(rep)
    mine = client.get("/api/v1/forecast/", {"months_from": "2026-03"}).json()
    assert [r["username"] for r in mine["reps"]] == ["rep1"]
    refused = client.get("/api/v1/forecast/", {"owner": other_rep.pk})
    assert refused.status_code == 403
    assert refused.json()["detail"]


@pytest.mark.parametrize(
    "params", [{"months_from": "March"}, {"months_from": "2026-05", "months_to": "2026-03"}]
)
def test_bad_forecast_months_are_a_400_with_detail(db, manager, params):
    response = _api(manager).get("/api/v1/forecast/", params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_the_forecast_is_a_few_queries_whatever_the_reps(
    book, manager_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(11):
        manager_client.get(reverse("sales:forecast"), {"months_from": "2026-03"})
    assert Lead.objects.count() > 5


def test_the_api_moves_to_opportunity_with_close_date_and_probability(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    response = _api(rep).post(
        f"/api/v1/leads/{lead.pk}/opportunity/",
        {"value": "100", "expected_close_on": "2026-04-15", "probability": 80},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["probability"], response.json()["expected_close_on"]) == (
        80,
        "2026-04-15",
    )
    bad = _api(rep).post(
        f"/api/v1/leads/{make_lead(Stage.CONTACTED).pk}/opportunity/",
        {"probability": 120},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["detail"]


def test_the_forecast_counts_slipped_close_dates_until_moved_forward(clock, make_lead, rep):
    from sales.pipeline import forecast, month_range

    lead = make_lead(Stage.CONTACTED)
    services.lead_to_opportunity(
        lead=lead, by=rep, value="100", expected_close_on=dt.date(2026, 3, 5)
    )
    march = month_range(dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    row = _row(forecast(None, march)["reps"], "username", "rep1")
    # Earlier this month: passed, so slipped, and not in March any more.
    assert (row["slipped"]["count"], row["months"][0]["count"]) == (1, 0)
    services.opportunity_update(lead=lead, by=rep, expected_close_on=APRIL)
    row = _row(forecast(None, march)["reps"], "username", "rep1")
    assert row["slipped"]["count"] == 0
    assert _cells([row], "username", "rep1")["2026-04"]["count"] == 1


@pytest.fixture
def spread(clock, make_lead, rep, other_rep, rep_client):
    """rep1's open opportunities, one of each kind: slipped last year and earlier this
    month, none with a close date (made on the board), later this month, next month, next
    year; and a won, a lost, a contacted lead and rep2's opportunity, none of them rep1's
    open pipeline."""
    closes = [dt.date(2025, 6, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 10), MARCH, APRIL]
    for close in [*closes, dt.date(2027, 1, 1)]:
        services.lead_to_opportunity(
            lead=make_lead(Stage.CONTACTED), by=rep, value="1000", expected_close_on=close
        )
    card = make_lead(Stage.CONTACTED)
    rep_client.post(reverse("sales:board_move", args=[card.pk]), {"to": "opportunity"})
    make_lead(Stage.WON)
    make_lead(Stage.LOST)
    make_lead(Stage.CONTACTED)
    services.lead_to_opportunity(
        lead=make_lead(Stage.CONTACTED, owner=other_rep), by=other_rep, value="7"
    )


def test_the_forecast_counts_every_open_opportunity_once(spread, rep):
    from sales.pipeline import forecast, month_range, pipeline_owners

    result = forecast(pipeline_owners(rep), month_range())  # March to August 2026
    row = _row(result["reps"], "username", "rep1")
    open_opportunities = Lead.objects.filter(owner=rep, stage=Stage.OPPORTUNITY).count()
    assert open_opportunities == 7
    assert row["total"]["count"] == open_opportunities
    assert row["total"]["value"] == Decimal("6000.00")  # the board's opportunity has none
    assert row["slipped"]["count"] == 2  # last June, and March 2nd (today is the 10th)
    assert row["no_close_date"]["count"] == 1
    assert row["other_months"]["count"] == 1  # January 2027
    months = {c["month"]: c["count"] for c in row["months"]}
    assert months == {
        "2026-03": 2,  # today and the 20th
        "2026-04": 1,
        "2026-05": 0,
        "2026-06": 0,
        "2026-07": 0,
        "2026-08": 0,
    }
    assert result["totals"]["total"]["count"] == open_opportunities


def test_the_forecast_page_shows_slipped_and_undated_before_the_months(
    spread, rep, rep_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(7):
        response = rep_client.get(reverse("sales:forecast"))
    page = response.content.decode()
    mine = page.split("<tbody>")[1].split("</tbody>")[0]
    assert person(rep) in mine
    order = [mine.index(f'data-month="{slot}"') for slot in ("slipped", "no_close_date")]
    order += [mine.index(f'data-month="2026-0{m}"') for m in range(3, 9)]
    order += [mine.index(f'data-month="{slot}"') for slot in ("other_months", "total")]
    assert order == sorted(order)
    total = mine.split('data-month="total"')[1].split("</tr>")[0]
    assert '"count">7<' in total and '"value">€6,000.00<' in total
    assert ">August 2026<" in mine


def test_the_forecast_speaks_dutch_money_and_months(book, manager):
    client = Client(HTTP_ACCEPT_LANGUAGE="nl")
    client.force_login(manager)
    page = client.get(
        reverse("sales:forecast"), {"months_from": "2026-03", "months_to": "2026-04"}
    ).content.decode()
    row = page.split('data-owner="rep1" data-team="" data-month="2026-03"')[1].split("</tr>")[0]
    assert ">maart 2026<" in row
    assert '"value">€ 4.000,00<' in row


def test_managers_see_slipped_and_undated_per_team(spread, rep, manager):
    north = Team.objects.create(name="North")
    TeamMembership.objects.create(team=north, user=rep)
    body = _api(manager).get("/api/v1/forecast/").json()
    team = _row(body["teams"], "name", "North")
    assert (team["slipped"]["count"], team["no_close_date"]["count"]) == (2, 1)
    assert team["total"]["count"] == 7
    assert body["totals"]["total"]["count"] == 8  # and rep2's
    rep1 = _row(body["reps"], "username", "rep1")
    assert rep1["name"] == person(rep)
    assert rep1["slipped"] == {"count": 2, "value": "2000.00", "weighted": "1000.00"}
