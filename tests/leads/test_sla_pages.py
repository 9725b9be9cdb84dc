"""The SLA pages: managers only, every bad value a form error (never a 500), and a saved
change says that stored deadlines are being recomputed."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from leads.models import DeadlineRecompute, Flag, FlagKind, Holiday, SLAPolicy, Stage
from leads.sla.forms import GlobalPolicyForm, OverrideForm
from leads.sla.services import ACTIVITY_FIELDS, THRESHOLD_FIELDS
from leads.sweep.flags import sweep_flags

from .. import factories
from .conftest import T0, D, H

pytestmark = pytest.mark.django_db


@pytest.fixture
def override(campaign):
    return SLAPolicy.objects.create(campaign=campaign, response_minutes=4 * 60)


@pytest.fixture
def holiday(db):
    return Holiday.objects.create(date=dt.date(2026, 12, 25), name="Christmas")


def urls(campaign_id, holiday_id):
    return [
        ("get", reverse("sla:policy")),
        ("post", reverse("sla:policy")),
        ("get", reverse("sla:status")),
        ("get", reverse("sla:override_create")),
        ("get", reverse("sla:override_edit", args=[campaign_id])),
        ("post", reverse("sla:override_edit", args=[campaign_id])),
        ("get", reverse("sla:override_delete", args=[campaign_id])),
        ("post", reverse("sla:override_delete", args=[campaign_id])),
        ("post", reverse("sla:holiday_add")),
        ("post", reverse("sla:holiday_delete", args=[holiday_id])),
    ]


def policy_data(**changes):
    policy = SLAPolicy.objects.get(is_global=True)
    data = {name: getattr(policy, name) for name in (*THRESHOLD_FIELDS, *ACTIVITY_FIELDS)}
    data.update(
        business_hours_enabled="",
        work_days=[0, 1, 2, 3, 4],
        work_start="09:00",
        work_end="17:00",
        time_zone="",
    )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_anonymous_users_are_sent_to_the_login_page(client, override, holiday):
    for method, url in urls(override.campaign_id, holiday.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("who", ["marketer", "rep", "nobody"])
def test_only_managers_may_see_or_change_the_sla_policy(
    client, override, holiday, marketer, rep, who
):
    user = {"marketer": marketer, "rep": rep}.get(who) or factories.UserFactory(username="x")
    client.force_login(user)
    before = list(SLAPolicy.objects.order_by("pk").values())
    for method, url in urls(override.campaign_id, holiday.pk):
        response = getattr(client, method)(url, policy_data(response_minutes=1))
        assert response.status_code == 403, url
    assert list(SLAPolicy.objects.order_by("pk").values()) == before
    assert Holiday.objects.filter(pk=holiday.pk).exists()
    assert not DeadlineRecompute.objects.exists()


def test_the_manager_sees_policy_overrides_holidays_and_the_last_sweep(
    client, manager, override, holiday, make_lead, clock
):
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 2 * D)
    sweep_flags()
    client.force_login(manager)
    response = client.get(reverse("sla:policy"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in THRESHOLD_FIELDS + ("work_start", "work_end", "time_zone"):
        assert f'for="id_{name}"' in html, f"{name} has no label"
    assert override.campaign.name in html
    assert "Christmas" in html
    assert "Last sweep" in html
    assert f'href="{reverse("leads:list")}?flag=response_overdue"' in html
    assert "js/sla.js" in html
    assert "<script>" not in html  # no inline scripts (CSP)


def test_saving_the_policy_changes_it_and_says_deadlines_are_being_recomputed(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("sla:policy"),
        policy_data(
            response_minutes="12 h",
            stalled_minutes="10 d",
            triage_web_form_minutes="45 min",
            triage_event_minutes="1 h 30 min",
            business_hours_enabled="on",
            work_days=[0, 1, 2, 3],
            work_start="08:30",
            work_end="16:00",
            time_zone="Europe/London",
        ),
        follow=True,
    )
    assert response.status_code == 200
    policy = SLAPolicy.objects.get(is_global=True)
    assert policy.response_minutes == 12 * 60
    assert policy.stalled_minutes == 10 * 24 * 60
    assert policy.triage_web_form_minutes == 45
    assert policy.triage_event_minutes == 90
    assert policy.business_hours_enabled
    assert policy.work_days == "0,1,2,3"
    assert (policy.work_start, policy.work_end) == (dt.time(8, 30), dt.time(16, 0))
    assert policy.time_zone == "Europe/London"
    [job] = DeadlineRecompute.objects.all()
    assert job.campaign is None and job.requested_by == manager
    html = response.content.decode()
    assert "being recomputed" in html
    assert "will be recomputed as soon as a worker picks up" in html  # no worker in tests


def test_the_grace_for_logging_late_and_the_unreached_attempts_are_saved(client, manager):
    client.force_login(manager)
    page = client.get(reverse("sla:policy")).content.decode()
    assert 'name="late_grace_minutes"' in page and 'name="unreached_attempts"' in page
    response = client.post(
        reverse("sla:policy"), policy_data(late_grace_minutes=90, unreached_attempts=4)
    )
    assert response.status_code == 302
    policy = SLAPolicy.objects.get(is_global=True)
    assert (policy.late_grace_minutes, policy.unreached_attempts) == (90, 4)
    # Neither feeds a stored deadline.
    assert not DeadlineRecompute.objects.exists()


def test_saving_an_unchanged_policy_starts_no_recompute(client, manager):
    client.force_login(manager)
    response = client.post(reverse("sla:policy"), policy_data())
    assert response.status_code == 302
    assert not DeadlineRecompute.objects.exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"response_minutes": 0}, "response_minutes"),
        ({"response_minutes": -3}, "response_minutes"),
        ({"response_minutes": "a day"}, "response_minutes"),
        ({"response_minutes": ""}, "response_minutes"),
        ({"response_minutes": 10**12}, "response_minutes"),
        ({"first_contact_minutes": "1.5"}, "first_contact_minutes"),
        ({"first_contact_minutes": "4 x"}, "first_contact_minutes"),
        ({"first_contact_minutes": "0 h"}, "first_contact_minutes"),
        ({"first_contact_minutes": "-2 h"}, "first_contact_minutes"),
        ({"response_minutes": "366 d"}, "response_minutes"),  # working time: a year at most
        ({"triage_email_minutes": "soon"}, "triage_email_minutes"),
        ({"triage_event_minutes": ""}, "triage_event_minutes"),
        ({"stalled_minutes": 0}, "stalled_minutes"),
        ({"unconverted_minutes": 10**8}, "unconverted_minutes"),
        ({"work_start": "17:00", "work_end": "09:00"}, "work_end"),
        ({"work_start": "25:00"}, "work_start"),
        ({"business_hours_enabled": "on", "work_days": []}, "work_days"),
        ({"work_days": [7]}, "work_days"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"late_grace_minutes": -1}, "late_grace_minutes"),
        ({"late_grace_minutes": ""}, "late_grace_minutes"),
        ({"unreached_attempts": 0}, "unreached_attempts"),
        ({"unreached_attempts": 1000}, "unreached_attempts"),
    ],
)
def test_bad_policy_values_are_form_errors_and_change_nothing(client, manager, changes, field):
    client.force_login(manager)
    before = list(SLAPolicy.objects.values())
    response = client.post(reverse("sla:policy"), policy_data(**changes))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert list(SLAPolicy.objects.values()) == before
    assert not DeadlineRecompute.objects.exists()


def test_a_manager_adds_edits_and_removes_a_campaign_policy(client, manager, campaign):
    client.force_login(manager)
    assert client.get(reverse("sla:override_create")).status_code == 200
    data = {
        name: getattr(SLAPolicy.objects.get(is_global=True), name) for name in THRESHOLD_FIELDS
    }
    response = client.post(
        reverse("sla:override_create"),
        {**data, "campaign": campaign.pk, "response_minutes": "2 h"},
    )
    assert response.status_code == 302
    override = SLAPolicy.objects.get(campaign=campaign)
    assert override.response_minutes == 120 and not override.is_global
    assert DeadlineRecompute.objects.get().campaign == campaign

    edit = reverse("sla:override_edit", args=[campaign.pk])
    assert client.get(edit).status_code == 200
    response = client.post(edit, {**data, "response_minutes": "3 u", "campaign": 999999})
    assert response.status_code == 302
    override.refresh_from_db()
    assert override.response_minutes == 180
    assert override.campaign == campaign  # the campaign of an override cannot be changed

    delete = reverse("sla:override_delete", args=[campaign.pk])
    assert "follow the global SLA policy" in client.get(delete).content.decode()
    assert client.post(delete).status_code == 302
    assert not SLAPolicy.objects.filter(campaign=campaign).exists()
    assert client.get(edit).status_code == 404


def test_a_campaign_cannot_get_a_second_policy(client, manager, override):
    client.force_login(manager)
    data = dict.fromkeys(THRESHOLD_FIELDS, 5)
    response = client.post(
        reverse("sla:override_create"), {**data, "campaign": override.campaign_id}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["campaign"]
    assert SLAPolicy.objects.filter(campaign=override.campaign).count() == 1


@pytest.mark.parametrize(
    "changes, field",
    [({"response_minutes": 0}, "response_minutes"), ({"campaign": ""}, "campaign")],
)
def test_bad_campaign_policy_values_are_form_errors(client, manager, campaign, changes, field):
    client.force_login(manager)
    data = dict.fromkeys(THRESHOLD_FIELDS, 5) | {"campaign": campaign.pk} | changes
    response = client.post(reverse("sla:override_create"), data)
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not SLAPolicy.objects.filter(campaign=campaign).exists()


def test_a_manager_adds_and_removes_holidays(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("sla:holiday_add"), {"date": "2026-12-26", "name": "Boxing Day"}
    )
    assert response.status_code == 302
    holiday = Holiday.objects.get()
    assert (holiday.date, holiday.name) == (dt.date(2026, 12, 26), "Boxing Day")
    assert not DeadlineRecompute.objects.exists()  # business hours are off

    response = client.post(reverse("sla:holiday_add"), {"date": "2026-12-26"})
    assert response.status_code == 400
    assert response.context["holiday_form"].errors["date"]

    for bad in ("2026-02-30", "", "tomorrow"):
        response = client.post(reverse("sla:holiday_add"), {"date": bad})
        assert response.status_code == 400
        assert response.context["holiday_form"].errors["date"]

    assert client.get(reverse("sla:holiday_add")).status_code == 405
    assert client.post(reverse("sla:holiday_delete", args=[holiday.pk])).status_code == 302
    assert not Holiday.objects.exists()
    assert client.post(reverse("sla:holiday_delete", args=[holiday.pk])).status_code == 404


def test_the_status_fragment_shows_progress_of_a_running_recompute(client, manager, campaign):
    DeadlineRecompute.objects.create(
        requested_by=manager, started_at=T0, total=4000, done=1200, campaign=campaign
    )
    client.force_login(manager)
    html = client.get(reverse("sla:status")).content.decode()
    assert "1,200 of 4,000" in html
    assert campaign.name in html
    assert 'value="1200"' in html
    DeadlineRecompute.objects.update(finished_at=T0 + D)
    html = client.get(reverse("sla:status")).content.decode()
    assert "up to date" in html


def test_posts_need_a_csrf_token(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post(reverse("sla:policy"), policy_data(response_minutes=1))
    assert response.status_code == 403
    assert SLAPolicy.objects.get(is_global=True).response_minutes == 24 * 60


def test_managers_see_the_sla_link_and_others_do_not(client, manager, rep):
    client.force_login(manager)
    assert reverse("sla:policy") in client.get(reverse("leads:list")).content.decode()
    client.force_login(rep)
    assert reverse("sla:policy") not in client.get(reverse("leads:list")).content.decode()


# --- flags are visible on the pages -------------------------------------------------------


def test_open_flags_show_as_linked_text_badges_on_the_list_and_the_lead_page(
    client, manager, make_lead, clock
):
    lead = make_lead(Stage.HANDED_OFF)
    quiet = make_lead(Stage.NEW)
    clock.at(T0 + 25 * H)
    sweep_flags()
    client.force_login(manager)

    listing = client.get(reverse("leads:list"), {"flag": FlagKind.RESPONSE_OVERDUE})
    html = listing.content.decode()
    assert lead.get_absolute_url() in html
    assert quiet.get_absolute_url() not in html
    assert "Response overdue" in html
    assert "· Sales" in html  # the side in text, not only in colour
    assert f'href="{reverse("leads:list")}?flag=response_overdue"' in html
    assert "Open flag:" in html  # for screen readers

    page = client.get(lead.get_absolute_url()).content.decode()
    assert "Response overdue" in page
    assert "Flag raised: Response overdue" in page  # the timeline

    clock.at(T0 + 26 * H)
    from sales import services as sales

    sales.lead_accept(lead=lead, by=lead.owner)
    sweep_flags()
    page = client.get(lead.get_absolute_url()).content.decode()
    assert "Flag resolved: Response overdue" in page
    assert Flag.objects.open().filter(lead=lead, kind=FlagKind.RESPONSE_OVERDUE).count() == 0


def test_the_flag_badges_tag_renders_nothing_without_flags():
    from leads.templatetags.flag_tags import flag_badges

    assert flag_badges([]) == ""
    assert flag_badges(None) == ""


def test_a_flag_badge_names_its_kind_and_side_in_text_and_links_to_its_list(db):
    from leads.models import Side
    from leads.templatetags.flag_tags import flag_badges

    lead = factories.LeadFactory()
    flag = Flag.objects.create(
        lead=lead, kind=FlagKind.FOLLOW_UP_OVERDUE, side=Side.SALES, raised_at=lead.created_at
    )
    html = str(flag_badges([flag]))
    assert html.startswith('<span class="flag-badges"><a class="badge badge-flag flag-sales')
    assert 'href="/leads/?flag=follow_up_overdue"' in html
    assert '<span class="visually-hidden">Open flag: </span>' in html
    assert f'{flag.get_kind_display()}<span class="flag-side"> · Sales</span>' in html
    assert 'title="Sales side, raised ' in html and "Show all leads with this flag." in html


def test_the_policy_forms_show_thresholds_as_durations():
    form = GlobalPolicyForm()
    assert 'value="1 h"' in str(form["triage_web_form_minutes"])
    assert 'value="3 d"' in str(form["triage_event_minutes"])
    assert 'value="2 d"' in str(form["first_contact_minutes"])
    assert 'value="14 d"' in str(form["stalled_minutes"])
    assert form.fields["triage_phone_call_minutes"].label == "Phone call"
    override = OverrideForm(initial={"response_minutes": 90})
    assert 'value="90 min"' in str(override["response_minutes"])
