"""LeadFlow's own checks for /health/ (django-health-check backends).

``leadflow/urls.py`` mounts the endpoint with the library's ``Cache`` check,
:class:`Database`, :class:`CeleryBroker` and :class:`BeatTick` from here, and the sweep's check
:class:`leads.sweep.health.RecentSweep` (in the leads app, as the core imports no app).
Every check is cheap enough for a probe every few seconds: one read by primary key or
index, or one broker connection with a short timeout. Their messages say what is wrong
and never a URL, host or credential, because the endpoint is public.
"""

import dataclasses
import datetime as dt

import health_check
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.decorators import method_decorator
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from kombu.exceptions import OperationalError

from . import outbox
from .celery import app as leadflow_app
from .models import Heartbeat

# A periodic job is late after this many of its intervals: one missed run is a hiccup
# (a worker busy with an import, a deploy), three are an outage.
LATE_AFTER_INTERVALS = 3


def late(age, interval_seconds, intervals=LATE_AFTER_INTERVALS):
    """Whether something that last happened ``age`` ago, every ``interval_seconds``, is late."""
    return age > dt.timedelta(seconds=interval_seconds * intervals)


class HealthView(HealthCheckView):
    """django-health-check's view, whose failing answer Django does not log again as an
    "Internal Server Error": the library has logged each failing check as a warning, with
    its reason, and a probe every few seconds during an outage would otherwise fill the
    error log and, through its logging integration, Sentry."""

    @method_decorator(transaction.non_atomic_requests)  # as the library's dispatch
    async def dispatch(self, request, *args, **kwargs):
        response = await super().dispatch(request, *args, **kwargs)
        if response.status_code >= 500:
            response._has_been_logged = True  # what django.utils.log.log_response checks
        return response


@dataclasses.dataclass
class Database(health_check.Database):
    """The library's ``SELECT 1`` on a connection of its own, with a message that keeps the
    driver's to the log: psycopg's first words can name the server ("failed to resolve
    host 'db'")."""

    def run(self):
        try:
            super().run()
        except ServiceUnavailable as exc:
            raise ServiceUnavailable("cannot query the database") from exc


@dataclasses.dataclass
class CeleryBroker(HealthCheck):
    """The broker accepts a connection within ``timeout``. Nothing is sent and no worker
    has to answer, so a stopped worker cannot make the probe hang; the worker's container
    pings it, and a late :class:`BeatTick` shows it too."""

    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=3), repr=False)
    app: object = dataclasses.field(default=None, repr=False)  # the Celery app; LeadFlow's

    def run(self):
        app = self.app or leadflow_app
        seconds = self.timeout.total_seconds()
        # Redis reads the socket timeouts from the transport options, AMQP connect_timeout;
        # max_retries=0: one attempt, none of kombu's retries with their sleeps.
        options = {"socket_connect_timeout": seconds, "socket_timeout": seconds}
        try:
            with app.connection_for_write(
                connect_timeout=seconds, transport_options=options
            ) as connection:
                connection.ensure_connection(max_retries=0, timeout=seconds)
        except (OperationalError, OSError) as exc:
            # The class only: the message of a connection error names the host.
            name = type(exc).__name__
            raise ServiceUnavailable(f"cannot connect to the broker ({name})") from exc


@dataclasses.dataclass
class BeatTick(HealthCheck):
    """Beat's last tick is recent. ``leadflow.tasks.beat_tick`` goes out every
    BEAT_TICK_SECONDS and a worker records it (the ``beat`` Heartbeat, read by primary
    key), so a late tick means beat stopped, the broker lost it, or no worker is taking
    tasks off the queue."""

    async def run(self):
        at = await Heartbeat.objects.filter(pk="beat").values_list("at", flat=True).afirst()
        if at is None:
            raise ServiceUnavailable("no beat tick recorded yet: are celery beat and a worker up?")
        age = timezone.now() - at
        if late(age, settings.BEAT_TICK_SECONDS):
            raise ServiceUnavailable(
                f"the last beat tick was {age.total_seconds():.0f} s ago; "
                f"beat sends one every {settings.BEAT_TICK_SECONDS} s"
            )


# The outbox is backed up when a message has waited this long without being finished:
# several relay passes and a whole lease, so one slow task does not trip it.
OUTBOX_LATE = dt.timedelta(minutes=15)


@dataclasses.dataclass
class OutboxBacklog(HealthCheck):
    """No outbox message has waited OUTBOX_LATE (leadflow/outbox.py): one read of the
    pending messages through ``outbox_pending_idx``. A late one means the relay or
    the workers are not getting through; the managers' jobs page lists what waits."""

    async def run(self):
        # Waiting: not finished, and no live run holds it (a long import may run for long).
        cutoff = timezone.now() - OUTBOX_LATE
        if await outbox.waiting().filter(created_at__lt=cutoff).aexists():
            minutes = OUTBOX_LATE.total_seconds() / 60
            raise ServiceUnavailable(f"a background task has waited over {minutes:.0f} minutes")
