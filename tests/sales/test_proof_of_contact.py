"""Attempts and connects, and proof of contact (SPEC §2, §3, §5; issue 16 items 3 and 4):
first_contact_at is the first attempt, first_connect_at the first conversation, the
attempts before it are counted; every activity keeps its server logged_at and, logged
later than the policy's grace, counts at logged_at; activities are append-only and a
correction is a new activity that points at the one it corrects."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from leadflow.errors import ActionForbidden, InvalidInput
from leads import services as marketing
from leads.models import Lead, SLAPolicy, Stage
from leads.reporting import definitions, stats
from sales import services as sales
from sales.models import Activity, Objection
from tests import reference
from tests.conftest import is_postgres

H = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def handed(db, marketer, rep, campaign):
    """A lead created at T0 and handed to ``rep`` at T0 + 1 h."""
    with time_machine.travel(T0, tick=False):
        lead = marketing.lead_intake(
            by=marketer,
            data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
            campaign=campaign,
        ).lead
    with time_machine.travel(T0 + H, tick=False):
        marketing.lead_qualify(lead=lead, by=marketer)
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    return Lead.objects.get(pk=lead.pk)


def log(lead, by, at, **kwargs):
    """Log an activity at ``at`` (server time), by default happening then."""
    with time_machine.travel(at, tick=False):
        return sales.activity_log(lead=lead, by=by, **{"kind": "call", **kwargs})


def fresh(lead):
    return Lead.objects.get(pk=lead.pk)


# --- attempts and connects -------------------------------------------------------------


def test_first_contact_is_the_first_attempt_and_first_connect_the_first_conversation(handed, rep):
    log(handed, rep, T0 + 2 * H, outcome="no_answer")
    log(handed, rep, T0 + 3 * H, kind="email", outcome="")
    log(handed, rep, T0 + 4 * H, outcome="voicemail")
    log(handed, rep, T0 + 5 * H, kind="note", outcome="connected")  # a note is no contact
    lead = fresh(handed)
    assert lead.first_contact_at == T0 + 2 * H
    assert lead.first_connect_at is None
    assert lead.attempts_before_connect == 3
    log(handed, rep, T0 + 6 * H, kind="email", outcome="replied")
    log(handed, rep, T0 + 7 * H, outcome="no_answer")
    lead = fresh(handed)
    assert lead.first_contact_at == T0 + 2 * H
    assert lead.first_connect_at == T0 + 6 * H
    assert lead.attempts_before_connect == 3  # the later unanswered call is after the connect


@pytest.mark.parametrize("outcome", ["connected", "replied", "meeting_held", "objection"])
def test_every_conversation_outcome_is_a_connect(handed, rep, outcome):
    log(handed, rep, T0 + 2 * H, outcome=outcome)
    lead = fresh(handed)
    assert lead.first_connect_at == T0 + 2 * H and lead.attempts_before_connect == 0


# --- logged_at and logged late ---------------------------------------------------------


def test_every_activity_keeps_the_server_time_it_was_logged_at(handed, rep):
    activity = log(handed, rep, T0 + 10 * H, occurred_at=T0 + 9 * H)
    activity.refresh_from_db()
    assert activity.occurred_at == T0 + 9 * H and activity.logged_at == T0 + 10 * H
    assert activity.logged_late is False and activity.counts_at == T0 + 9 * H


def test_a_backdated_call_logged_after_the_grace_counts_at_logged_at_against_the_sla(handed, rep):
    # Handed off at T0 + 1 h (first-contact SLA 48 h); the rep logs at T0 + 60 h a call
    # they say happened at T0 + 2 h: more than 24 h late, so it counts at T0 + 60 h.
    activity = log(handed, rep, T0 + 60 * H, occurred_at=T0 + 2 * H, outcome="connected")
    activity.refresh_from_db()
    assert activity.logged_late is True and activity.counts_at == T0 + 60 * H
    lead = fresh(handed)
    assert lead.first_contact_at == lead.first_connect_at == T0 + 60 * H
    assert lead.last_contact_at == lead.last_activity_at == T0 + 60 * H
    assert lead.accepted_at == T0 + 60 * H  # the implicit acceptance too
    in_sla = definitions.contacted_in_sla_q(48)
    assert not Lead.objects.filter(in_sla, pk=lead.pk).exists()
    filters = definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    assert reference.funnel(filters)["contacted_in_sla"] == 0
    stats.rebuild()
    assert stats.funnel(filters)["contact_in_sla_rate"] == 0


def test_a_backdated_call_logged_within_the_grace_counts_when_it_happened(handed, rep):
    log(handed, rep, T0 + 20 * H, occurred_at=T0 + 2 * H)
    lead = fresh(handed)
    assert lead.first_contact_at == T0 + 2 * H
    assert Lead.objects.filter(definitions.contacted_in_sla_q(48), pk=lead.pk).exists()


def test_the_grace_is_the_policys(handed, rep):
    SLAPolicy.objects.filter(is_global=True).update(late_grace_minutes=60)
    on_time = log(handed, rep, T0 + 3 * H, occurred_at=T0 + 2 * H)
    late = log(handed, rep, T0 + 5 * H + dt.timedelta(minutes=1), occurred_at=T0 + 4 * H)
    assert (on_time.logged_late, late.logged_late) == (False, True)


def test_an_activity_before_the_lead_was_created_is_refused(handed, rep):
    with pytest.raises(InvalidInput, match="before the lead was created") as exc:
        log(handed, rep, T0 + 3 * H, occurred_at=T0 - H)
    assert exc.value.field == "occurred_at"
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "occurred, message",
    [
        (T0 + 30 * H, "An activity cannot be in the future."),
        (T0 - H, "An activity cannot be before the lead was created."),
    ],
)
def test_the_log_form_shows_a_clear_error_for_a_future_or_pre_creation_time(
    handed, rep, client, occurred, message
):
    client.force_login(rep)
    with time_machine.travel(T0 + 3 * H, tick=False):
        response = client.post(
            reverse("sales:log", args=[handed.pk]),
            {
                "kind": "call",
                "occurred_at": timezone.localtime(occurred).strftime("%Y-%m-%dT%H:%M"),
            },
        )
    assert response.status_code == 200
    assert response.context["form"].errors["occurred_at"] == [message]
    assert message in response.content.decode()
    assert not Activity.objects.exists()


# --- append-only -----------------------------------------------------------------------


def test_an_activity_cannot_be_saved_again_or_deleted(handed, rep):
    activity = log(handed, rep, T0 + 2 * H)
    activity.notes = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        activity.save()
    with pytest.raises(TypeError, match="append-only"):
        activity.delete()
    for write in (lambda qs: qs.update(notes="x"), lambda qs: qs.delete()):
        with pytest.raises(TypeError, match="append-only"), transaction.atomic():
            write(Activity.objects.filter(pk=activity.pk))
    assert Activity.objects.get(pk=activity.pk).notes == ""


def test_the_admin_shows_activities_read_only_even_to_a_superuser(handed, rep, client):
    activity = log(handed, rep, T0 + 2 * H, objections=["price"])
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    assert client.get("/admin/sales/activity/").status_code == 200
    assert client.get("/admin/sales/activity/add/").status_code == 403
    page = client.get(f"/admin/sales/activity/{activity.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        client.post(
            f"/admin/sales/activity/{activity.pk}/change/", {"notes": "edited", "kind": "note"}
        ).status_code
        == 403
    )
    assert client.get(f"/admin/sales/activity/{activity.pk}/delete/").status_code == 403
    client.post(
        "/admin/sales/activity/",
        {"action": "delete_selected", "_selected_action": [activity.pk], "post": "yes"},
    )
    assert Activity.objects.filter(pk=activity.pk, kind="call").exists()
    assert Objection.objects.filter(activity=activity).exists()


def test_the_api_offers_no_edit_or_delete_of_activities(handed, rep, client):
    activity = log(handed, rep, T0 + 2 * H)
    client.force_login(rep)
    url = f"/api/v1/leads/{handed.pk}/activities/"
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(url, {"notes": "x"}, content_type="application/json")
        assert response.status_code == 405, method
    assert client.get(f"/api/v1/activities/{activity.pk}/").status_code == 404
    assert Activity.objects.get(pk=activity.pk).notes == ""


def test_the_database_refuses_updates_and_deletes_of_activities_on_postgresql(handed, rep):
    if not is_postgres():
        pytest.skip("the trigger is PostgreSQL's (sales 0005)")
    activity = log(handed, rep, T0 + 2 * H, objections=["price"])
    for sql in (
        "UPDATE sales_activity SET occurred_at = occurred_at - interval '1 day' WHERE id = %s",
        "DELETE FROM sales_activity WHERE id = %s",
        "UPDATE sales_objection SET tag = 'timing' WHERE activity_id = %s",
        "DELETE FROM sales_objection WHERE activity_id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [activity.pk])
    assert Activity.objects.filter(pk=activity.pk, occurred_at=T0 + 2 * H).exists()
    assert Objection.objects.get(activity=activity).tag == "price"


# --- corrections -----------------------------------------------------------------------


def test_a_correction_is_a_new_activity_and_the_lead_follows_it(handed, rep):
    first = log(handed, rep, T0 + 2 * H, outcome="no_answer")
    log(handed, rep, T0 + 3 * H, outcome="no_answer")
    assert fresh(handed).first_connect_at is None
    correction = log(
        handed, rep, T0 + 4 * H, occurred_at=T0 + 2 * H, outcome="connected", corrects=first.pk
    )
    assert correction.corrects_id == first.pk and correction.logged_late is False
    first.refresh_from_db()
    assert first.outcome == "no_answer"  # the original stays as it was
    lead = fresh(handed)
    assert lead.first_contact_at == lead.first_connect_at == T0 + 2 * H
    assert lead.attempts_before_connect == 0
    assert Activity.objects.filter(lead=handed).count() == 3


def test_correcting_a_call_with_a_note_withdraws_it_as_contact(handed, rep):
    call = log(handed, rep, T0 + 2 * H, outcome="connected")
    log(handed, rep, T0 + 3 * H, kind="note", occurred_at=T0 + 2 * H, corrects=call)
    lead = fresh(handed)
    assert lead.first_contact_at is None and lead.first_connect_at is None
    assert lead.last_contact_at is None and lead.contact_due_at is not None


def test_an_activity_is_corrected_once_and_only_on_its_own_lead(handed, rep, make_lead):
    call = log(handed, rep, T0 + 2 * H)
    log(handed, rep, T0 + 3 * H, occurred_at=T0 + 2 * H, outcome="voicemail", corrects=call)
    with pytest.raises(InvalidInput, match="already corrected"):
        log(handed, rep, T0 + 4 * H, occurred_at=T0 + 2 * H, corrects=call)
    other = make_lead(Stage.ACCEPTED)
    with pytest.raises(InvalidInput, match="activity of this lead"):
        sales.activity_log(lead=other, by=rep, kind="call", corrects=call.pk)


def test_a_rep_cannot_correct_someone_elses_activity(handed, rep, manager):
    by_manager = log(handed, manager, T0 + 2 * H)
    with pytest.raises(ActionForbidden):
        log(handed, rep, T0 + 3 * H, occurred_at=T0 + 2 * H, corrects=by_manager)
    mine = log(handed, rep, T0 + 4 * H)
    log(handed, manager, T0 + 5 * H, occurred_at=T0 + 4 * H, outcome="replied", corrects=mine)
    assert fresh(handed).first_connect_at == T0 + 4 * H


def test_corrections_through_the_api(handed, rep, client):
    call = log(handed, rep, T0 + 2 * H, outcome="no_answer")
    client.force_login(rep)
    url = f"/api/v1/leads/{handed.pk}/activities/"
    with time_machine.travel(T0 + 3 * H, tick=False):
        response = client.post(
            url,
            {
                "kind": "call",
                "outcome": "connected",
                "occurred_at": (T0 + 2 * H).isoformat(),
                "corrects": call.pk,
            },
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["corrects"] == call.pk and body["logged_late"] is False
        assert body["counts_at"].startswith("2026-10-05T")
        again = client.post(
            url, {"kind": "call", "corrects": call.pk}, content_type="application/json"
        )
    assert again.status_code == 400 and "already corrected" in again.json()["detail"]
    lead = client.get(f"/api/v1/leads/{handed.pk}/").json()
    assert lead["first_connect_at"] is not None and lead["attempts_before_connect"] == 0


def test_the_timeline_marks_late_and_corrected_activities_and_offers_a_correction(
    handed, rep, client
):
    call = log(handed, rep, T0 + 50 * H, occurred_at=T0 + 2 * H, outcome="no_answer")
    client.force_login(rep)
    with time_machine.travel(T0 + 51 * H, tick=False):
        page = client.get(handed.get_absolute_url()).content.decode()
        assert "Logged late" in page
        assert f"?corrects={call.pk}" in page
        form = client.get(reverse("sales:log", args=[handed.pk]) + f"?corrects={call.pk}")
        assert form.context["form"].initial["corrects"] == call.pk
        assert form.context["form"].initial["outcome"] == "no_answer"
        response = client.post(
            reverse("sales:log", args=[handed.pk]),
            {"kind": "call", "outcome": "voicemail", "corrects": call.pk},
        )
        assert response.status_code == 302
        page = client.get(handed.get_absolute_url()).content.decode()
    assert "Corrected on" in page and "Correction of the entry of" in page
    assert f"?corrects={call.pk}" not in page


# --- where the ball dropped ------------------------------------------------------------


def lose_after(lead, rep, calls):
    for i in range(calls):
        log(lead, rep, T0 + (2 + i) * H, outcome="no_answer")
    with time_machine.travel(T0 + 20 * H, tick=False):
        sales.lead_lose(lead=lead, by=rep, reason="unresponsive")


def dropped(lead):
    filters = definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    counted = reference.funnel(filters)["ball_dropped"]
    stats.rebuild()
    assert stats.funnel(filters)["ball_dropped"] == counted
    attempts = SLAPolicy.objects.get(is_global=True).unreached_attempts
    (category,) = [
        c
        for c in definitions.DROPPED_CATEGORIES
        if definitions.with_sales_delay(Lead.objects.filter(pk=lead.pk))
        .filter(definitions.dropped_q(c, attempts))
        .exists()
    ]
    assert counted[category] == 1
    return category


def test_lost_after_one_unanswered_call_is_sales_ball(handed, rep):
    lose_after(handed, rep, 1)
    assert dropped(handed) == "sales"


def test_lost_unreached_after_six_attempts_is_the_market_with_its_reason(handed, rep, client):
    lose_after(handed, rep, 6)
    assert fresh(handed).attempts_before_connect == 6
    assert dropped(handed) == "market"
    client.force_login(rep)
    listed = client.get("/leads/?dropped=market")
    assert handed.email in listed.content.decode()
    assert fresh(handed).lost_reason == "unresponsive"


def test_lost_after_a_connect_is_the_market(handed, rep):
    log(handed, rep, T0 + 2 * H, outcome="objection", objections=["price"])
    with time_machine.travel(T0 + 20 * H, tick=False):
        sales.lead_lose(lead=handed, by=rep, reason="price")
    assert dropped(handed) == "market"


def test_the_number_of_attempts_is_the_policys_and_the_statistics_follow_it(handed, rep):
    lose_after(handed, rep, 3)
    assert dropped(handed) == "sales"
    SLAPolicy.objects.filter(is_global=True).update(unreached_attempts=3)
    assert stats.refresh() is True  # a changed N rebuilds the statistics
    filters = definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    assert stats.funnel(filters)["ball_dropped"]["market"] == 1
    assert dropped(handed) == "market"


# --- the backfill ----------------------------------------------------------------------


def test_the_migration_backfills_first_connect_and_attempts(handed, rep):
    import importlib

    from django.apps import apps

    log(handed, rep, T0 + 2 * H, outcome="no_answer")
    log(handed, rep, T0 + 3 * H, outcome="voicemail")
    log(handed, rep, T0 + 4 * H, outcome="connected")
    Lead.objects.filter(pk=handed.pk).update(first_connect_at=None, attempts_before_connect=0)
    migration = importlib.import_module("leads.migrations.0015_lead_first_connect_attempts")
    migration.backfill(apps, None)
    lead = fresh(handed)
    assert lead.first_connect_at == T0 + 4 * H and lead.attempts_before_connect == 2


def test_a_corrected_activity_is_not_counted_twice_in_follow_ups_or_objections(handed, rep):
    call = log(handed, rep, T0 + 2 * H, outcome="objection", objections=["price"])
    log(
        handed,
        rep,
        T0 + 3 * H,
        occurred_at=T0 + 2 * H,
        outcome="objection",
        objections=["price", "timing"],
        corrects=call,
    )
    filters = definitions.Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    stats.rebuild()
    card = stats.sales_scorecard(filters)
    assert card == reference.sales_scorecard(filters)
    (row,) = [r for r in card if r["rep"] == rep]
    assert row["follow_ups"] == 1
    assert dict(row["objections"]) == {"price": 1, "timing": 1}
    assert stats.objections_by_campaign(filters) == reference.objections_by_campaign(filters)


def test_a_backdated_call_after_the_sweep_flagged_the_lead_stays_against_the_rep(handed, rep):
    from leads.models import Flag, FlagKind
    from leads.sweep.flags import sweep_flags

    with time_machine.travel(T0 + 50 * H, tick=False):
        sweep_flags()
    flag = Flag.objects.get(lead=handed, kind=FlagKind.FIRST_CONTACT_OVERDUE)
    # The rep then logs a call they say happened an hour after the handoff.
    log(handed, rep, T0 + 51 * H, occurred_at=T0 + 2 * H, outcome="connected")
    with time_machine.travel(T0 + 52 * H, tick=False):
        sweep_flags()
        sales.lead_lose(lead=handed, by=rep, reason="price")
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 52 * H  # resolved by the call, as a breach on record
    lead = fresh(handed)
    assert lead.first_contact_at == T0 + 51 * H
    assert not Lead.objects.filter(definitions.contacted_in_sla_q(48), pk=lead.pk).exists()
    assert dropped(lead) == "sales"
