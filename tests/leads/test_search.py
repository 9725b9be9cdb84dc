"""The lead list's search (issue 20 item 3): the same leads, in the same order, however
PostgreSQL gets them (the bounded walk, the matches first, or the unbounded walk of a very
common search); accented letters on SQLite too; phone numbers by their digits."""

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from leadflow.bulk import bulk_insert
from leads import filters, views
from leads.models import Lead, PhoneDigits, Stage, phone_digits
from leads.services import lead_update_contact
from tests import factories

LIST = reverse("leads:list")
FIELDS = ("last_name", "first_name", "email", "company")
FIRST = ["Fleur", "Daan", "Emma", "Smit", "Anna"]
LAST = ["Smit", "Jansen", "de Vries", "Smits", "van der Berg"]
COMPANY = ["Acme", "Smit & Co", "Jansen Bouw", "Delta"]


def reference(leads, text):
    """The search as it was defined before (leads/filters.py up to issue 20): every word
    (the first five) in one of the fields, or the whole text in one of them."""
    text = " ".join(text.split())
    words = text.split(" ")[:5]

    def anywhere(lead, term):
        return any(term.casefold() in getattr(lead, f).casefold() for f in FIELDS)

    return [
        lead for lead in leads if anywhere(lead, text) or all(anywhere(lead, w) for w in words)
    ]


def ordered(leads, sort):
    """``leads`` in the sort's order, one stable sort per column from the last."""
    out = list(leads)
    for field in reversed(filters.SORTS[sort]):
        name = field.lstrip("-")
        out.sort(key=lambda lead, n=name: getattr(lead, n), reverse=field.startswith("-"))
    return out


@pytest.fixture
def people(db, marketer):
    campaign = factories.CampaignFactory()
    start = timezone.now() - dt.timedelta(days=30)
    leads = []
    combos = itertools.product(FIRST, LAST, COMPANY)
    for i, (first, last, company) in enumerate(itertools.islice(combos, 70)):
        leads.append(
            factories.LeadFactory(
                first_name=first,
                last_name=last,
                company=company,
                email=f"{first}.{last}.{i}@example.com".lower().replace(" ", ""),
                campaign=campaign,
                # Two leads share each creation time: the id breaks the tie.
                created_at=start + dt.timedelta(hours=i // 2),
                stage=Stage.NEW if i % 3 else Stage.MQL,
            )
        )
    return leads


PATHS = {
    "walk": {},
    # Past a walk of 3: all the matches, sorted (few of them).
    "matches": {"SEARCH_WALK": 3},
    # Many matches, sorted by creation: a window of creation times past the walk.
    "window": {"SEARCH_WALK": 3, "SEARCH_SORT_ALL": 0},
    # A window too narrow even widened: all the matches, sorted.
    "narrow window": {
        "SEARCH_WALK": 3,
        "SEARCH_SORT_ALL": 0,
        "SEARCH_WINDOW_PAGES": 0.01,
        "SEARCH_WINDOW_GROWTH": 2,
    },
    "common": {"SEARCH_WALK": 3, "SEARCH_MATCHES_CAP": 2},
}


def walk_pages(client, query):
    """Every lead of a search, page by page through the next cursors; and the count."""
    seen, url, total = [], f"{LIST}?{query}", None
    while url:
        response = client.get(url)
        assert response.status_code == 200
        if total is None:
            total = (response.context["total"], response.context["total_capped"])
        seen += [lead.pk for lead in response.context["leads"]]
        cursor = response.context["page"].next_cursor()
        url = f"{LIST}?{query}&cursor={cursor}" if cursor else None
    return seen, total


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("sort", list(filters.SORTS))
@pytest.mark.parametrize("text", ["smit", "fleur smit", "JANSEN bouw", "van der berg", "zzz"])
def test_search_pages_hold_the_same_leads_in_the_same_order(
    marketer_client, people, monkeypatch, path, sort, text
):
    monkeypatch.setattr(views, "PER_PAGE", 4)
    for name, value in PATHS[path].items():
        monkeypatch.setattr(filters, name, value)
    expected = ordered(reference(people, text), sort)
    seen, total = walk_pages(marketer_client, f"q={text.replace(' ', '+')}&sort={sort}")
    assert seen == [lead.pk for lead in expected]
    assert total == (len(expected), False)


@pytest.mark.parametrize("path", PATHS)
def test_search_combines_with_the_other_filters(marketer_client, people, monkeypatch, path):
    monkeypatch.setattr(views, "PER_PAGE", 3)
    for name, value in PATHS[path].items():
        monkeypatch.setattr(filters, name, value)
    expected = ordered(
        [lead for lead in reference(people, "smit") if lead.stage == Stage.MQL], "-created"
    )
    seen, total = walk_pages(marketer_client, "q=smit&stage=mql")
    assert seen == [lead.pk for lead in expected] and total == (len(expected), False)


@pytest.mark.parametrize("path", PATHS)
def test_previous_page_of_a_search_is_the_page_before(marketer_client, people, monkeypatch, path):
    monkeypatch.setattr(views, "PER_PAGE", 4)
    for name, value in PATHS[path].items():
        monkeypatch.setattr(filters, name, value)
    first = marketer_client.get(f"{LIST}?q=smit")
    second = marketer_client.get(f"{LIST}?q=smit&cursor={first.context['page'].next_cursor()}")
    back = marketer_client.get(f"{LIST}?q=smit&cursor={second.context['page'].previous_cursor()}")
    assert [lead.pk for lead in back.context["leads"]] == [
        lead.pk for lead in first.context["leads"]
    ]


def test_a_search_of_an_empty_scope_finds_nothing(db):
    page = filters.KeysetPage(
        Lead.objects.none(),
        filters.SORTS["-created"],
        None,
        50,
        search=filters.search_q("x"),
        count_cap=10,
    )
    assert page.object_list == [] and page.total == 0 and not page.total_capped


def test_count_of_a_search_is_capped(marketer_client, people, monkeypatch):
    monkeypatch.setattr(filters, "COUNT_CAP", 5)
    response = marketer_client.get(f"{LIST}?q=smit")
    assert response.context["total"] == 5 and response.context["total_capped"]


@pytest.mark.parametrize("path", PATHS)
def test_a_search_page_takes_a_bounded_number_of_queries(
    marketer_client, people, monkeypatch, path, django_assert_max_num_queries
):
    for name, value in PATHS[path].items():
        monkeypatch.setattr(filters, name, value)
    # Session, user, groups, bell, the page's statements (at most three), flags, dropdowns,
    # the saved views' pills.
    with django_assert_max_num_queries(12):
        assert marketer_client.get(f"{LIST}?q=smit&sort=name").status_code == 200


@pytest.mark.parametrize(
    ("text", "name"), [("émilie", "Émilie"), ("JOSÉ", "José"), ("ÉMILIE", "émilie")]
)
def test_search_folds_accented_letters(marketer_client, db, text, name):
    wanted = factories.LeadFactory(first_name=name, last_name="Dubois")
    factories.LeadFactory(first_name="Emilie", last_name="Jose")
    response = marketer_client.get(f"{LIST}?q={text}")
    assert [lead.pk for lead in response.context["leads"]] == [wanted.pk]


@pytest.mark.parametrize(
    "text", ["31667339", "06-31667339", "+31 6 31667339", "0031 6 3166 7339", "(06) 316.673"]
)
def test_a_phone_number_finds_its_lead_however_it_is_spaced(marketer_client, db, text):
    wanted = factories.LeadFactory(phone="+31 6 31667339")
    factories.LeadFactory(phone="+31 6 12345678")
    response = marketer_client.get(LIST, {"q": text})
    assert [lead.pk for lead in response.context["leads"]] == [wanted.pk]


@pytest.mark.parametrize(
    ("saved", "text"),
    [
        ("06-12345678", "+31 6 12345678"),
        ("06-12345678", "+31612345678"),
        ("06-12345678", "0031 6 1234 5678"),
        ("06-12345678", "+31 (0)6 12345678"),
        ("020 555 1234", "+31 20 555 1234"),
        ("(212) 555-0134", "+1 212 555 0134"),
        ("040 123 4567", "+358 40 123 4567"),
        ("06 1234 5678", "+39 06 1234 5678"),  # Italy keeps the 0 after its code
    ],
)
def test_a_caller_id_in_international_form_finds_a_lead_saved_nationally(
    marketer_client, db, saved, text
):
    wanted = factories.LeadFactory(phone=saved)
    factories.LeadFactory(phone="+31 6 87654321")
    response = marketer_client.get(LIST, {"q": text})
    assert [lead.pk for lead in response.context["leads"]] == [wanted.pk]


def test_a_national_number_does_not_lose_its_leading_digits_as_a_country_code(marketer_client, db):
    # Only "+" or "00" marks a country code: "31 6 1234 5678" typed as is is not Dutch.
    factories.LeadFactory(phone="06-12345678")
    assert list(marketer_client.get(LIST, {"q": "316 1234 5678"}).context["leads"]) == []


def test_five_digits_are_not_a_phone_search(marketer_client, db):
    factories.LeadFactory(phone="+31 6 31667339")
    assert list(marketer_client.get(LIST, {"q": "31667"}).context["leads"]) == []


def test_a_changed_or_imported_phone_is_found_by_its_new_digits(marketer_client, marketer):
    lead = factories.LeadFactory(phone="+31 (0)6 1234-5678")
    lead_update_contact(
        lead=lead,
        by=marketer,
        data={"first_name": "A", "last_name": "B", "email": lead.email, "phone": "06 555 12 34"},
    )
    (imported,) = bulk_insert(Lead, [Lead(last_name="Import", phone="+44 20 7946 0000")])

    def found(text):
        return [x.pk for x in marketer_client.get(LIST, {"q": text}).context["leads"]]

    assert found("0612345678") == [] and found("065551234") == [lead.pk]
    assert found("020 7946 0000") == [imported.pk]


def test_the_phone_digits_match_the_index_expression(db):
    """PhoneDigits in SQL gives the digits phone_digits gives in Python."""
    phones = ["+31 6 3166-7339", "(020) 794.6000 ext 12", "", "06/12 34 56 78"]
    for phone in phones:
        factories.LeadFactory(phone=phone)
    got = dict(Lead.objects.annotate(d=PhoneDigits("phone")).values_list("phone", "d"))
    assert got == {phone: phone_digits(phone) for phone in phones}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's trigram index")
def test_the_migration_builds_the_phone_index_and_the_search_uses_it(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([("leads", "0024_merge_auto_response")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'lead_phone_digits_trgm_idx'")
        assert cursor.fetchone() is None
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    for i in range(200):
        factories.LeadFactory(phone=f"+31 6 {10000000 + i * 7919}")
    matches = Lead.objects.filter(filters.search_q("06-10007919")).order_by().values("pk")
    sql, params = matches.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan")
    assert "lead_phone_digits_trgm_idx" in plan


def test_the_folded_filters_are_open_when_a_filter_is_set(marketer_client, db):
    folded = marketer_client.get(f"{LIST}?q=smit").content.decode()
    assert 'id="filters-toggle"' in folded
    assert 'class="lead-filters collapse row g-2 align-items-end" id="lead-filters"' in folded
    opened = marketer_client.get(f"{LIST}?q=smit&origin=marketing&stage=new").content.decode()
    assert 'class="lead-filters collapse row g-2 align-items-end show"' in opened
    assert 'aria-expanded="true"' in opened and "Filters <span" in opened
    wrong = marketer_client.get(f"{LIST}?created_from=yesterday").content.decode()
    assert 'class="lead-filters collapse row g-2 align-items-end show"' in wrong


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the matches-first plan")
@pytest.mark.parametrize("sort", ["-created", "created"])
def test_past_the_walk_a_creation_sorted_page_comes_from_a_window_not_every_match(
    marketer_client, people, monkeypatch, sort
):
    monkeypatch.setattr(views, "PER_PAGE", 4)
    for name, value in PATHS["window"].items():
        monkeypatch.setattr(filters, name, value)
    sorted_all = []
    monkeypatch.setattr(filters, "_match_ids", lambda *args: sorted_all.append(args) or (None, 0))
    expected = ordered(reference(people, "smit"), sort)
    seen, total = walk_pages(marketer_client, f"q=smit&sort={sort}")
    assert seen == [lead.pk for lead in expected] and total == (len(expected), False)
    assert sorted_all == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the matches-first plan")
def test_a_window_holding_less_than_a_page_falls_back_to_sorting_every_match(
    marketer_client, people, monkeypatch
):
    monkeypatch.setattr(views, "PER_PAGE", 4)
    for name, value in PATHS["narrow window"].items():
        monkeypatch.setattr(filters, name, value)
    calls = []
    match_ids = filters._match_ids
    monkeypatch.setattr(filters, "_match_ids", lambda *a: calls.append(1) or match_ids(*a))
    first = marketer_client.get(f"{LIST}?q=smit").context["leads"]
    assert [lead.pk for lead in first] == [
        lead.pk for lead in ordered(reference(people, "smit"), "-created")[:4]
    ]
    assert calls == [1]
