"""Notifications from flags (SPEC §4): a raised flag tells its responsible user once, by
email and in the app, through an outbox that two workers can drain at once; a failed
send leaves the flag in the outbox; managers get a daily digest."""

import smtplib
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection

from leadflow.models import Notification, NotificationKind, Profile
from leadflow.names import person
from leads import tasks
from leads.demo.seeder import Seeder
from leads.models import Flag, FlagKind, Stage
from leads.sweep.digest import build_flag_digest, flag_digest
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import drain_flag_outbox
from sales import services as sales

from .. import factories
from .conftest import T0, D, H

pytestmark = pytest.mark.django_db


def flag_notifications(**filters):
    return Notification.objects.filter(kind=NotificationKind.FLAG_RAISED, **filters)


def test_a_raised_flag_tells_its_responsible_user_once_by_email_and_in_the_app(
    clock, make_lead, rep
):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    result = drain_flag_outbox()
    assert (result.claimed, result.notified, result.emails) == (1, 1, 1)

    [email] = mail.outbox
    assert email.to == [rep.email]
    assert "Response overdue" in email.subject
    assert str(lead) in email.subject
    assert f"{settings.SITE_URL}/leads/{lead.pk}/" in email.body
    html = email.alternatives[0][0]
    assert f'href="{settings.SITE_URL}/leads/{lead.pk}/"' in html
    [notification] = flag_notifications()
    assert notification.user == rep
    assert notification.lead == lead
    assert "Response overdue" in notification.text
    flag = Flag.objects.get(lead=lead)
    assert flag.notified_at == T0 + 25 * H

    # Nothing is sent twice: the outbox is empty now.
    again = drain_flag_outbox()
    assert again.claimed == 0
    assert len(mail.outbox) == 1
    assert flag_notifications().count() == 1


def test_a_flag_without_a_responsible_user_goes_to_every_active_manager(clock, make_lead, manager):
    second = factories.manager(username="manager2")
    factories.manager(username="retired", is_active=False)
    boss = factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    lead = make_lead(Stage.HANDED_OFF, owner=None)  # the unassigned queue
    clock.at(T0 + 25 * H)
    sweep_flags()
    drain_flag_outbox()
    told = {n.user.username for n in flag_notifications().select_related("user")}
    assert told == {manager.username, second.username, boss.username}
    assert sorted(e.to[0] for e in mail.outbox) == sorted(
        [manager.email, second.email, boss.email]
    )
    assert all(str(lead) in e.subject for e in mail.outbox)
    assert "goes to the managers" in mail.outbox[0].body


def test_an_inactive_responsible_user_is_replaced_by_the_managers(clock, make_lead, rep, manager):
    make_lead(Stage.HANDED_OFF)
    rep.is_active = False
    rep.save()
    clock.at(T0 + 25 * H)
    sweep_flags()
    drain_flag_outbox()
    assert [e.to for e in mail.outbox] == [[manager.email]]


def test_a_user_without_email_is_told_in_the_app_only(clock, make_lead, rep):
    rep.email = ""
    rep.save()
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    result = drain_flag_outbox()
    assert result.notified == 1
    assert mail.outbox == []
    assert flag_notifications(user=rep).count() == 1


def test_a_flag_resolved_before_it_was_notified_is_not_sent_and_leaves_the_outbox(
    clock, make_lead, rep
):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    clock.at(T0 + 26 * H)
    sales.lead_accept(lead=lead, by=rep)
    sweep_flags()
    result = drain_flag_outbox()
    assert (result.claimed, result.skipped, result.notified) == (1, 1, 0)
    assert mail.outbox == []
    assert not Flag.objects.filter(notified_at__isnull=True).exists()


def failing_sends(monkeypatch, failures):
    """The mail server refuses the first ``failures`` messages."""
    from leads.sweep import outbox

    real = outbox.send_templated
    calls = {"n": 0}

    def send(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise smtplib.SMTPServerDisconnected("the mail server went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "send_templated", send)
    return calls


def test_a_failed_send_puts_the_flag_back_in_the_outbox_without_a_half_notification(
    clock, make_lead, rep, monkeypatch
):
    for _ in range(3):
        make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    failing_sends(monkeypatch, failures=2)

    first = drain_flag_outbox()
    assert len(first.failed) == 3  # the failed flag and the rest of the batch
    assert Flag.objects.filter(notified_at__isnull=True).count() == 3
    assert not flag_notifications().exists()  # rolled back with the failed send

    second = drain_flag_outbox()
    assert len(second.failed) == 3
    third = drain_flag_outbox()
    assert third.failed == [] and third.notified == 3
    assert len(mail.outbox) == 3
    assert flag_notifications().count() == 3
    assert not Flag.objects.filter(notified_at__isnull=True).exists()


def test_the_drain_task_retries_failed_sends_until_the_flags_are_notified(
    clock, make_lead, monkeypatch
):
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    calls = failing_sends(monkeypatch, failures=2)
    tasks.drain_flag_outbox.delay()  # eager in tests: retries run at once
    assert calls["n"] == 3
    assert len(mail.outbox) == 1
    assert flag_notifications().count() == 1


def test_after_the_last_retry_the_flag_still_waits_in_the_outbox(
    clock, make_lead, monkeypatch, django_capture_on_commit_callbacks
):
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    failing_sends(monkeypatch, failures=1000)
    tasks.drain_flag_outbox.delay()
    assert Flag.objects.filter(notified_at__isnull=True).count() == 1
    monkeypatch.undo()
    # The next beat sweep queues a drain (through the outbox, once the sweep commits).
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep.delay()
    assert len(mail.outbox) == 1


def test_the_sweep_task_raises_flags_and_then_notifies(
    clock, make_lead, rep, django_capture_on_commit_callbacks
):
    make_lead(Stage.ACCEPTED)
    clock.at(T0 + 49 * H)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep.delay()
    assert Flag.objects.filter(kind=FlagKind.FIRST_CONTACT_OVERDUE, notified_at=clock.now).exists()
    assert [e.to for e in mail.outbox] == [[rep.email]]


def test_demo_data_flags_are_already_notified(db):
    Seeder(leads=300, seed=3).run()
    assert Flag.objects.exists()
    assert not Flag.objects.filter(notified_at__isnull=True).exists()
    assert drain_flag_outbox().claimed == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_workers_draining_at_once_notify_each_flag_exactly_once(
    clock, make_lead, rep, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    for _ in range(40):
        make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    mail.outbox.clear()  # the handoffs' own "handed to you" emails (committed here)
    clock.stop()  # threads run on the real clock
    barrier = threading.Barrier(2)
    results, errors = [], []

    def drain():
        try:
            barrier.wait()
            results.append(drain_flag_outbox(batch_size=25))
            results.append(drain_flag_outbox(batch_size=25))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(r.notified for r in results) == 40
    assert len(mail.outbox) == 40
    assert flag_notifications().count() == 40
    assert flag_notifications().values("lead").distinct().count() == 40
    assert not Flag.objects.filter(notified_at__isnull=True).exists()


# --- the daily digest ------------------------------------------------------------------------


def test_the_digest_counts_flags_raised_in_the_last_day_by_side_and_person_and_lists_the_oldest(
    clock, make_lead, rep, other_rep, marketer, manager
):
    old = make_lead(Stage.MQL)  # mql_waiting at T0 + 24h, marketing, marketer
    clock.at(T0 + 3 * D)
    for owner in (rep, rep, other_rep, None):
        make_lead(Stage.HANDED_OFF, owner=owner)  # response_overdue at T0 + 4d
    sweep_flags()  # raises the old mql_waiting flag now, at T0 + 3d
    clock.at(T0 + 4 * D + H)
    sweep_flags()  # the four response_overdue flags

    digest = build_flag_digest(clock.now)
    assert digest.raised_total == 4  # the mql_waiting flag is older than a day
    [(side, people, total)] = digest.raised_by_side
    assert str(side) == "Sales"
    assert total == 4
    assert people == [(person(rep), 2), *sorted([("managers", 1), (person(other_rep), 1)])]
    assert digest.open_total == 5
    assert digest.oldest_open[0].lead == old
    assert digest.oldest_open[0].kind == FlagKind.MQL_WAITING

    _digest, sent = flag_digest(clock.now)
    assert sent == 1
    [email] = mail.outbox
    assert email.to == [manager.email]
    assert "4 raised, 5 open" in email.subject
    assert f"{person(rep)}: 2" in email.body
    assert "MQL waiting for handoff" in email.body
    assert f"{settings.SITE_URL}/leads/{old.pk}/" in email.body
    assert "?flag=any" in email.alternatives[0][0]


def test_flag_emails_and_the_digest_are_written_in_each_recipients_language(
    clock, make_lead, rep, manager
):
    for user in (rep, manager):
        Profile.objects.update_or_create(user=user, defaults={"language": "nl"})
    english = factories.manager(username="manager2")  # never chose: the site's default
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    drain_flag_outbox()
    [email] = mail.outbox
    assert email.subject == f"Signaal: Reactie te laat – {lead}"
    assert "De bal ligt bij Verkoop" in email.body
    assert flag_notifications().get().text == "Reactie te laat (bij verkoop)"

    mail.outbox.clear()
    flag_digest(clock.now)
    subjects = {e.to[0]: e.subject for e in mail.outbox}
    assert subjects[manager.email].startswith("LeadFlow-signalen van de dag: 1 afgegeven")
    assert subjects[english.email].startswith("LeadFlow daily flags: 1 raised")


def test_no_digest_when_nothing_was_raised_and_nothing_is_open(clock, manager):
    digest, sent = flag_digest(clock.now)
    assert digest.is_empty
    assert sent == 0
    assert mail.outbox == []


def test_the_digest_task_mails_every_active_manager(clock, make_lead, manager):
    factories.manager(username="manager2")
    factories.manager(username="manager3", email="")
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 2 * D)
    sweep_flags()
    assert tasks.flag_digest.delay().get() == 2
    assert sorted(e.to[0] for e in mail.outbox) == ["manager2@example.com", "manager@example.com"]


class WorkerKilled(BaseException):
    """kill -9 of the draining worker: it stops mid-batch and no handler runs."""


def test_a_drain_killed_mid_batch_leaves_its_unsent_flags_to_the_next_drain(
    clock, make_lead, monkeypatch
):
    """Nothing is marked notified before it was sent: the flags a killed drain had not
    sent come back once its lease runs out, and each flag is still sent exactly once."""
    from leads.sweep import outbox

    for _ in range(4):
        make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep_flags()
    real = outbox.send_templated
    sent = {"n": 0}

    def send(*args, **kwargs):
        if sent["n"] == 2:
            raise WorkerKilled
        sent["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "send_templated", send)
    with pytest.raises(WorkerKilled):
        drain_flag_outbox()
    monkeypatch.undo()
    assert len(mail.outbox) == 2
    assert Flag.objects.filter(notified_at__isnull=False).count() == 2  # only what was sent
    # While the dead drain's lease holds, another drain leaves its flags alone ...
    assert drain_flag_outbox().claimed == 0
    # ... and once it has run out, takes them.
    result = drain_flag_outbox(now=clock.now + outbox.NOTIFY_LEASE + 1 * H / 3600)
    assert (result.claimed, result.notified) == (2, 2)
    assert len(mail.outbox) == 4 and flag_notifications().count() == 4
    assert sorted(len(m.to) for m in mail.outbox) == [1, 1, 1, 1]
    assert not Flag.objects.filter(notified_at__isnull=True).exists()
