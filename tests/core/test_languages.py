"""English and Dutch (SPEC §7): the key pages in Dutch with Dutch dates and numbers, the
language switcher that remembers the choice, and emails in the recipient's language."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse

from leadflow.models import Profile
from leadflow.names import person
from leads.models import Stage
from sales import services as sales
from tests import factories

AMS = ZoneInfo("Europe/Amsterdam")
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=AMS)
COOKIE = settings.LANGUAGE_COOKIE_NAME
SETLANG = reverse("set_language")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def dutch_client(user=None):
    client = Client(HTTP_ACCEPT_LANGUAGE="nl")
    if user is not None:
        client.force_login(user)
    return client


def speak(user, language):
    Profile.objects.update_or_create(user=user, defaults={"language": language})


def test_english_is_the_default(client, db):
    body = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in body
    assert "Log in to LeadFlow" in body


def test_login_page_in_dutch_from_the_browser_and_from_the_cookie(db):
    body = dutch_client().get(reverse("login")).content.decode()
    assert '<html lang="nl">' in body
    assert "Inloggen bij LeadFlow" in body
    assert "Gebruikersnaam" in body  # Django's own strings follow along
    client = Client()
    client.cookies[COOKIE] = "nl"
    assert "Inloggen bij LeadFlow" in client.get(reverse("login")).content.decode()


def test_login_page_has_the_switcher_as_a_plain_post_form(client, db):
    body = client.get(reverse("login")).content.decode()
    form = re.search(r'<form method="post" action="/i18n/setlang/".*?</form>', body, re.S)
    assert form, "the language switcher is missing"
    form = form.group(0)
    assert "csrfmiddlewaretoken" in form
    assert 'name="next" value="/accounts/login/"' in form
    assert re.search(r'<button type="submit" name="language" value="nl" lang="nl"', form)
    assert 'value="en" lang="en" class="btn btn-outline-light active" aria-pressed="true"' in form
    assert ">Nederlands</button>" in form and ">English</button>" in form
    # No inline script, handler or style: it works without JavaScript.
    assert not re.search(r"<script|\son\w+=|style=", form)


def test_lead_list_in_dutch_with_dutch_dates(marketer, make_lead, frozen):
    lead = make_lead(Stage.NEW, first_name="Ada", last_name="Byron")
    body = dutch_client(marketer).get(reverse("leads:list")).content.decode()
    assert '<html lang="nl">' in body
    assert "Lead vastleggen" in body and "Geen leads voldoen" not in body
    assert ">Nieuw</span>" in body  # the stage badge
    assert f'<time datetime="{lead.created_at.astimezone(AMS).isoformat()}' in body
    assert ">27-11-2026</time>" in body
    assert "1 lead" in body
    # The navbar switcher shows the current language.
    assert 'value="nl" lang="nl" class="btn btn-outline-light active" aria-pressed="true"' in body


def test_lead_page_in_dutch_with_dutch_money_and_times(manager, make_lead, frozen):
    lead = make_lead(Stage.OPPORTUNITY)
    sales.lead_win(lead=lead, by=manager, value="1234567.89")
    body = dutch_client(manager).get(lead.get_absolute_url()).content.decode()
    assert "Dealwaarde" in body
    assert "1.234.567,89" in body
    assert ">Gewonnen</span>" in body
    assert "Mijlpalen" in body and "Tijdlijn" in body
    assert ">27-11-2026 10:00</time>" in body
    assert "Fase: Kans → Gewonnen" in body  # the timeline is told in the reader's language


def test_dashboard_in_dutch_with_dutch_numbers(manager, make_lead, frozen):
    lead = make_lead(Stage.OPPORTUNITY)
    sales.lead_win(lead=lead, by=manager, value="1234567.89")
    response = dutch_client(manager).get(reverse("dashboard"))
    body = response.content.decode()
    assert "Overdrachtsdashboard" in body
    assert "Leads aangemaakt 30-8-2026 – 27-11-2026" in body
    assert "1.234.567,89" in body  # won value
    assert "100,0%" in body  # win rate
    assert response.context["chart_data"]["names"]["handed_off"] == "Overgedragen"
    assert response.context["chart_data"]["labels"][-1] == "23-11-2026"


def test_switcher_sets_the_cookie_and_keeps_a_users_choice(rep):
    client = Client()
    client.force_login(rep)
    assert "My leads" in client.get(reverse("sales:inbox")).content.decode()
    response = client.post(SETLANG, {"language": "nl", "next": reverse("sales:inbox")})
    assert response.status_code == 302
    assert response["Location"] == reverse("sales:inbox")
    cookie = response.cookies[COOKIE]
    assert cookie.value == "nl"
    assert int(cookie["max-age"]) >= 300 * 24 * 3600  # outlives the browser session
    assert Profile.objects.get(user=rep).language == "nl"
    body = client.get(reverse("sales:inbox")).content.decode()
    assert "Mijn leads" in body and "Wacht op je reactie" in body

    client.post(SETLANG, {"language": "en", "next": "/"})
    assert Profile.objects.get(user=rep).language == "en"
    assert "My leads" in client.get(reverse("sales:inbox")).content.decode()


def test_switcher_refuses_unknown_languages_and_foreign_next(rep):
    client = Client()
    client.force_login(rep)
    response = client.post(SETLANG, {"language": "xx", "next": "https://evil.example/"})
    assert COOKIE not in response.cookies
    assert not response.get("Location", "").startswith("https://evil.example")
    assert not Profile.objects.filter(user=rep, language="xx").exists()


def test_switcher_needs_post_and_csrf(db):
    assert Client().get(SETLANG, {"language": "nl"}).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(SETLANG, {"language": "nl"}).status_code == 403


def test_anonymous_choice_is_a_cookie_only_and_becomes_the_users_at_login(db):
    user = factories.rep(username="nieuw")
    client = Client()
    next_url = reverse("login") + "?next=/sales/"
    response = client.post(SETLANG, {"language": "nl", "next": next_url})
    assert response["Location"] == next_url
    assert client.cookies[COOKIE].value == "nl"
    assert not Profile.objects.filter(language="nl").exists()

    client.post(reverse("login"), {"username": "nieuw", "password": "pw-Secret-123"})
    assert Profile.objects.get(user=user).language == "nl"


def test_login_switches_to_the_language_the_user_chose_before(db):
    user = factories.rep(username="anouk")
    speak(user, "nl")
    client = Client()  # a new browser: no language cookie, English
    assert "Log in to LeadFlow" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("login"), {"username": "anouk", "password": "pw-Secret-123"})
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "nl"
    assert "Mijn leads" in client.get(reverse("sales:inbox")).content.decode()


def test_date_inputs_stay_iso_in_dutch(marketer, campaign):
    body = dutch_client(marketer).get(reverse("campaigns:update", args=[campaign.pk]))
    body = body.content.decode()
    assert 'type="date"' in body and 'value="2026-01-01"' in body


def test_emails_and_notifications_are_written_in_the_recipients_language(
    marketer_client,
    manager_client,
    make_lead,
    rep,
    other_rep,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    speak(rep, "nl")
    lead = make_lead(Stage.MQL)
    # The marketer works in English; the rep reads Dutch.
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("leads:hand_off", args=[lead.pk]), {"mode": "rep", "to_user": rep.pk}
        )
    [email] = mailoutbox
    assert email.subject == f"Nieuwe lead voor jou: {lead}"
    assert "heeft een lead aan je overgedragen" in email.body
    assert "Accepteer of wijs hem af" in email.alternatives[0][0]

    sales.lead_accept(lead=lead, by=rep)
    manager_client.post(reverse("sales:reassign", args=[lead.pk]), {"to_user": other_rep.pk})
    note = rep.notifications.filter(kind="reassigned").exclude(text="").get()
    assert note.text == f"Opnieuw toegewezen aan {person(other_rep)}."
    # Someone who never chose a language gets the site's default.
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("sales:reassign", args=[lead.pk]), {"to_user": rep.pk})
    [email] = mailoutbox
    assert email.to == [rep.email] and email.subject.startswith("Lead opnieuw aan jou")
    away = other_rep.notifications.filter(kind="reassigned").exclude(text="").get()
    assert away.text == f"Reassigned to {person(rep)}."
