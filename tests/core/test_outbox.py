"""The transactional outbox (leadflow/outbox.py): a side effect is written with the change
that causes it, survives a broker that is down, runs once however often it is delivered,
and goes out again when the run that took it died."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from leadflow import outbox
from leadflow.celery import app
from leadflow.models import NotificationKind, OutboxMessage
from leadflow.notifications.emails import send_notification
from leadflow.notifications.notify import notify

EMAIL_TASK = "leadflow.tasks.send_notification_email"


@pytest.fixture
def broker_down(monkeypatch):
    """A broker that refuses every publish (as Redis stopped does); ``.up()`` restores it."""
    task = outbox.lookup(EMAIL_TASK)
    real = type(task).apply_async
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(kwargs.get("task_id"))
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(type(task), "apply_async", refuse)
    outbox.broker_pause.clear()

    class Control:
        attempts = calls

        @staticmethod
        def up():
            monkeypatch.setattr(type(task), "apply_async", real)
            outbox.broker_pause.clear()

    return Control


def _email(user):
    return notify(user=user, kind=NotificationKind.HANDED_TO_YOU, text="Lead for you", email=True)


def test_a_side_effect_is_written_with_its_change_and_runs_after_commit(
    rep, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = _email(rep)
        message = OutboxMessage.objects.get()
        assert message.task == EMAIL_TASK and message.args == [notification.pk]
        assert mail.outbox == []  # nothing leaves before the commit
    message.refresh_from_db()
    assert message.done_at is not None and message.attempts == 1
    assert len(mail.outbox) == 1


def test_a_rolled_back_change_leaves_no_side_effect(rep, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                _email(rep)
                raise RuntimeError("the service failed")
        except RuntimeError:
            pass
    assert callbacks == [] and not OutboxMessage.objects.exists()
    assert mail.outbox == []


def test_with_the_broker_down_the_action_succeeds_and_the_relay_sends_later(
    rep, broker_down, django_capture_on_commit_callbacks, settings
):
    app.conf.task_always_eager = False  # publish for real: into the refusing broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _email(rep)  # no exception reaches the user's request
        message = OutboxMessage.objects.get()
        assert broker_down.attempts == [str(message.pk)]
        assert message.published_at is None and "Connection refused" in message.last_error
        assert message.due_at > timezone.now()  # the relay tries again after a pause
        # The next action in this process does not wait on the broker again.
        with django_capture_on_commit_callbacks(execute=True):
            _email(rep)
        assert len(broker_down.attempts) == 1
        assert outbox.pending().count() == 2
    finally:
        app.conf.task_always_eager = True
    broker_down.up()
    assert outbox.relay(now=timezone.now() + timedelta(minutes=1)) == 2
    assert outbox.pending().count() == 0
    assert len(mail.outbox) == 2


def test_the_relay_stops_at_a_broker_failure_and_keeps_the_rest(rep, broker_down, settings):
    app.conf.task_always_eager = False
    try:
        for _ in range(3):
            with transaction.atomic():
                _email(rep)  # the test's transaction never commits: nothing published
        assert outbox.relay() == 0
        assert len(broker_down.attempts) == 1  # one try, then wait for the next pass
    finally:
        app.conf.task_always_eager = True
    assert outbox.pending().count() == 3


def _deliver(message):
    """What a worker does with a delivery of ``message``."""
    return outbox.lookup(message.task).apply(
        args=message.args, task_id=str(message.pk), headers={outbox.HEADER: "1"}
    )


def test_a_duplicate_delivery_is_skipped_so_the_email_goes_once(rep):
    with transaction.atomic():
        _email(rep)  # not committed: the test delivers by hand
    message = OutboxMessage.objects.get()
    _deliver(message)
    _deliver(message)  # the broker redelivered it (a visibility timeout, a relay pass)
    message.refresh_from_db()
    assert len(mail.outbox) == 1 and message.attempts == 1 and message.done_at


def test_a_delivery_while_another_run_holds_the_lease_is_skipped(rep):
    with transaction.atomic():
        _email(rep)
    message = OutboxMessage.objects.get()
    assert outbox.claim(str(message.pk)) == outbox.Claim.RUN
    outbox._held_ids().clear()  # that run is another worker's
    _deliver(message)
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.done_at is None and message.lease_until > timezone.now()


def test_a_run_that_died_is_published_again_when_its_lease_runs_out(rep, settings):
    with transaction.atomic():
        _email(rep)
    message = OutboxMessage.objects.get()
    assert outbox.claim(str(message.pk)) == outbox.Claim.RUN  # then the worker was killed
    outbox._held_ids().clear()
    # While the lease holds, the relay leaves it alone ...
    assert outbox.relay(now=timezone.now() + timedelta(seconds=60)) == 0
    assert mail.outbox == []
    # ... once it has run out, the relay publishes it and the new run sends it.
    message.refresh_from_db()
    assert message.lease_until - timezone.now() > timedelta(
        seconds=settings.OUTBOX_LEASE_SECONDS - 5
    )
    OutboxMessage.objects.filter(pk=message.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert outbox.relay() == 1
    message.refresh_from_db()
    assert len(mail.outbox) == 1 and message.done_at and message.attempts == 2


def test_a_published_message_nobody_ran_is_published_again_later_and_later(rep, settings):
    with transaction.atomic():
        _email(rep)
    message = OutboxMessage.objects.get()
    start = timezone.now()
    outbox.publish(message)  # eager: it ran
    message.refresh_from_db()
    assert message.done_at is not None  # done messages are never published again
    assert outbox.relay(now=start + timedelta(days=2)) == 0
    # A message the broker lost: published, never run.
    OutboxMessage.objects.filter(pk=message.pk).update(done_at=None, publish_count=3)
    message.refresh_from_db()
    app.conf.task_always_eager = False
    try:
        sent = []
        task = outbox.lookup(EMAIL_TASK)
        original = type(task).apply_async
        type(task).apply_async = lambda self, *a, **kw: sent.append(kw["task_id"])
        try:
            outbox.publish(message)
        finally:
            type(task).apply_async = original
    finally:
        app.conf.task_always_eager = True
    message.refresh_from_db()
    wait = message.due_at - message.published_at
    assert sent == [str(message.pk)]
    assert wait == timedelta(seconds=settings.OUTBOX_REPUBLISH_SECONDS * 8)


def test_a_task_that_fails_for_good_is_kept_with_its_error_and_not_resent(rep, monkeypatch):
    with transaction.atomic():
        _email(rep)
    message = OutboxMessage.objects.get()
    monkeypatch.setattr(
        "leadflow.tasks.send_notification", lambda pk: (_ for _ in ()).throw(ValueError("bad"))
    )
    with pytest.raises(ValueError):
        _deliver(message).get()
    message.refresh_from_db()
    assert message.failed_at and "ValueError: bad" in message.last_error
    assert outbox.relay(now=timezone.now() + timedelta(days=2)) == 0
    monkeypatch.undo()
    assert outbox.retry_later(message.pk) == 1  # a manager's Retry
    assert outbox.relay() == 1
    assert len(mail.outbox) == 1


def test_a_database_outage_mid_run_frees_the_lease_without_failing(rep, monkeypatch):
    with transaction.atomic():
        _email(rep)
    message = OutboxMessage.objects.get()

    def outage(pk):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("leadflow.tasks.send_notification", outage)
    with pytest.raises(OperationalError):
        _deliver(message).get()
    message.refresh_from_db()
    assert message.failed_at is None and message.done_at is None
    assert message.lease_until is None and "server closed" in message.last_error


def test_mail_server_retries_keep_one_message_and_send_once(rep, monkeypatch):
    with transaction.atomic():
        notification = _email(rep)
    message = OutboxMessage.objects.get()
    tries = {"n": 0}

    def flaky(pk):
        tries["n"] += 1
        if tries["n"] < 3:
            raise OSError("mail server down")
        send_notification(pk)

    monkeypatch.setattr("leadflow.tasks.send_notification", flaky)
    _deliver(message)  # eager: Celery's retries run at once, inside the same message
    message.refresh_from_db()
    assert tries["n"] == 3 and len(mail.outbox) == 1 and message.done_at
    assert mail.outbox[0].to == [notification.user.email]


def test_writes_that_record_an_outcome_retry_through_a_short_outage(monkeypatch):
    monkeypatch.setattr(outbox.time, "sleep", lambda s: None)
    calls = {"n": 0}

    def write():
        calls["n"] += 1
        if calls["n"] < 3:
            raise OperationalError("the database system is starting up")
        return "written"

    assert outbox.retry_through_outage(write) == "written" and calls["n"] == 3
    with pytest.raises(OperationalError):
        outbox.retry_through_outage(lambda: (_ for _ in ()).throw(OperationalError("down")))


def test_every_task_is_an_outbox_task(db):
    app.loader.import_default_modules()
    ours = [t for name, t in app.tasks.items() if not name.startswith("celery.")]
    assert ours and all(isinstance(t, outbox_task_class()) for t in ours)


def outbox_task_class():
    from leadflow.celery import OutboxTask

    return OutboxTask


def test_the_relay_prunes_messages_done_a_week_ago(rep):
    now = timezone.now()
    for done in (now - timedelta(days=8), now - timedelta(days=6), None):
        with transaction.atomic():
            _email(rep)
        OutboxMessage.objects.filter(done_at=None, published_at=None).update(
            done_at=done, published_at=now
        )
    assert outbox.prune() == 1
    assert OutboxMessage.objects.count() == 2
