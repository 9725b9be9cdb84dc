"""Issue 18, "marketing hears back": e-mails that read right (plain text and subjects not
HTML-escaped, one full stop after a time), each person's notification switches (in the
app and by e-mail, separately, read in notify()), and one way of naming people."""

import datetime as dt

import pytest
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from leadflow.models import Notification, NotificationKind, NotificationSetting
from leadflow.names import person
from leadflow.notifications.emails import render_email
from leadflow.notifications.notify import notify
from leads import services as marketing
from leads.models import Flag, FlagKind, Side, Stage
from tests import factories

pytestmark = pytest.mark.django_db

PROFILE = reverse("profile")
SETTINGS = reverse("notification_settings")


# --- e-mails read right ---------------------------------------------------------------


def test_a_subject_and_text_with_an_apostrophe_and_an_ampersand_arrive_unescaped(
    make_lead, marketer, rep, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.MQL, first_name="Seán", last_name="O'Brien", company="Smith & Sons")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    [email] = mail.outbox
    assert email.subject == "New lead for you: Seán O'Brien (Smith & Sons)"
    assert "handed you a lead: Seán O'Brien (Smith & Sons)." in email.body
    assert "&#x27;" not in email.body + email.subject and "&amp;" not in email.body
    html, _mimetype = email.alternatives[0]
    assert "O&#x27;Brien (Smith &amp; Sons)" in html  # the HTML part stays escaped


def test_a_sentence_ending_in_a_time_ends_with_one_full_stop(make_lead, marketer, settings):
    settings.LANGUAGE_CODE = "en"
    lead = make_lead(Stage.MQL, company="Acme Ltd.")
    # 9:29 in the site's time zone (Europe/Amsterdam, CET): English writes it "9:29 a.m.".
    due = dt.datetime(2026, 3, 2, 8, 29, tzinfo=dt.UTC)
    flag = Flag.objects.create(
        lead=lead,
        kind=FlagKind.MQL_WAITING,
        side=Side.MARKETING,
        responsible=marketer,
        due_at=due,
        raised_at=due,
    )
    notification = notify(user=marketer, kind=NotificationKind.FLAG_RAISED, lead=lead)
    context = {"notification": notification, "lead": lead, "flag": flag, "recipient": marketer}
    subject, text, html = render_email("notification_flag_raised", context)
    assert "it was due March 2, 2026, 9:29 a.m." in text
    assert "a.m.." not in text and "a.m.." not in html
    assert "Ltd.." not in text and "Ltd.." not in html


# --- preferences ----------------------------------------------------------------------


def hand_off_to(rep, make_lead, marketer, capture):
    lead = make_lead(Stage.MQL)
    mail.outbox.clear()
    with capture(execute=True):
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    return lead


def test_everyone_hears_in_the_app_and_by_email_until_they_choose(
    make_lead, marketer, rep, django_capture_on_commit_callbacks
):
    lead = hand_off_to(rep, make_lead, marketer, django_capture_on_commit_callbacks)
    assert [e.to for e in mail.outbox] == [[rep.email]]
    assert rep.notifications.get(kind=NotificationKind.HANDED_TO_YOU).lead == lead


def test_switching_off_the_app_keeps_the_email_and_empties_the_bell(
    rep_client, make_lead, marketer, rep, django_capture_on_commit_callbacks
):
    NotificationSetting.objects.create(
        user=rep, kind=NotificationKind.HANDED_TO_YOU, in_app=False, email=True
    )
    lead = hand_off_to(rep, make_lead, marketer, django_capture_on_commit_callbacks)
    assert [e.to for e in mail.outbox] == [[rep.email]]
    assert str(lead) in mail.outbox[0].subject
    body = rep_client.get(reverse("notifications")).content.decode()
    assert "No notifications yet." in body
    assert not Notification.objects.filter(user=rep, read_at__isnull=True).exists()


def test_switching_off_the_email_keeps_the_bell_and_sends_nothing(
    make_lead, marketer, rep, django_capture_on_commit_callbacks
):
    NotificationSetting.objects.create(
        user=rep, kind=NotificationKind.HANDED_TO_YOU, in_app=True, email=False
    )
    lead = hand_off_to(rep, make_lead, marketer, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    note = rep.notifications.get(kind=NotificationKind.HANDED_TO_YOU)
    assert (note.lead, note.in_app, note.read_at) == (lead, True, None)


def test_switching_off_both_leaves_no_trace_and_other_kinds_untouched(
    make_lead, marketer, rep, manager, django_capture_on_commit_callbacks
):
    NotificationSetting.objects.create(
        user=rep, kind=NotificationKind.HANDED_TO_YOU, in_app=False, email=False
    )
    hand_off_to(rep, make_lead, marketer, django_capture_on_commit_callbacks)
    assert mail.outbox == [] and not rep.notifications.exists()
    assert notify(user=rep, kind=NotificationKind.REASSIGNED, text="still on") is not None


def test_a_flag_email_follows_the_switch_too(make_lead, rep):
    from leads.sweep.outbox import drain_flag_outbox

    lead = make_lead(Stage.HANDED_OFF)
    Flag.objects.create(
        lead=lead,
        kind=FlagKind.RESPONSE_OVERDUE,
        side=Side.SALES,
        responsible=rep,
        raised_at=timezone.now(),
    )
    NotificationSetting.objects.create(
        user=rep, kind=NotificationKind.FLAG_RAISED, in_app=True, email=False
    )
    mail.outbox.clear()
    result = drain_flag_outbox()
    assert (result.notified, result.emails, mail.outbox) == (1, 0, [])
    assert rep.notifications.filter(kind=NotificationKind.FLAG_RAISED, lead=lead).exists()


def test_the_profile_page_switches_each_channel_of_each_kind_separately(rep_client, rep):
    body = rep_client.get(PROFILE).content.decode()
    assert 'id="notification-settings"' in body
    assert f'action="{SETTINGS}"' in body
    assert 'name="handed_to_you_in_app"' in body and 'name="handed_to_you_email"' in body
    assert 'name="import_done_email"' not in body  # never e-mailed: nothing to switch
    on = {f"{kind}_in_app": "on" for kind in NotificationKind.values}
    on |= {f"{kind}_email": "on" for kind in NotificationKind.values}
    del on["handed_to_you_in_app"], on["lead_rejected_email"]
    response = rep_client.post(SETTINGS, on)
    assert response.status_code == 302
    saved = {(s.kind, s.in_app, s.email) for s in NotificationSetting.objects.filter(user=rep)}
    assert saved == {("handed_to_you", False, True), ("lead_rejected", True, False)}
    body = rep_client.get(PROFILE).content.decode()
    assert 'id="id_handed_to_you_in_app" aria-label="Lead handed to you in the app">' in body
    assert 'id="id_handed_to_you_email" aria-label="Lead handed to you by e-mail" checked>' in body
    # Everything back on: no rows needed.
    rep_client.post(SETTINGS, {**on, "handed_to_you_in_app": "on", "lead_rejected_email": "on"})
    assert not NotificationSetting.objects.filter(user=rep).exists()


def test_the_settings_are_saved_by_post_only_and_for_a_logged_in_user(client, rep_client):
    assert rep_client.get(SETTINGS).status_code == 405
    assert client.post(SETTINGS, {})["Location"].startswith(reverse("login"))


# --- naming -----------------------------------------------------------------------------


def test_a_person_is_their_full_name_with_the_username_where_it_helps(db):
    sanne = factories.rep(username="rep2", first_name="Sanne", last_name="Bakker")
    nameless = factories.rep(username="rep3", first_name="", last_name="")
    assert person(sanne) == "Sanne Bakker"
    assert person(sanne, with_username=True) == "Sanne Bakker (rep2)"
    assert person(nameless) == person(nameless, with_username=True) == "rep3"
    assert person(None) == ""
    template = Template('{% load leadflow_tags %}{{ u|person }} / {{ u|person:"username" }}')
    assert template.render(Context({"u": sanne})) == "Sanne Bakker / Sanne Bakker (rep2)"


def test_the_navbar_and_the_timeline_name_people_by_their_full_name(
    marketer_client, marketer, make_lead
):
    lead = make_lead(Stage.MQL)
    body = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert f">{person(marketer)}</a>" in body  # the navbar's link to the profile
    assert f"· {person(marketer)}</div>" in body  # the timeline's "who"
    assert f"· {marketer.username}</div>" not in body
